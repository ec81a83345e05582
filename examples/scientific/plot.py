# Data work in the scientific image: numpy makes the data, pandas summarises it, matplotlib draws
# it to plot.png (no display needed: the image presets the Agg backend). Run it with
#   docker-python-sandbox run examples/scientific/plot.py --image docker-python-sandbox:scientific \
#     --memory 256 --collect '*.png' --out ./plots
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

rng = np.random.default_rng(seed=7)
days = pd.date_range("2026-01-01", periods=90, freq="D")
sales = pd.DataFrame({"day": days, "sales": 100 + rng.normal(0, 8, len(days)).cumsum()})
sales["7-day mean"] = sales["sales"].rolling(7).mean()

print(sales["sales"].describe().round(2).to_string())

figure, axes = plt.subplots(figsize=(6.4, 4.8), dpi=100)
axes.plot(sales["day"], sales["sales"], label="daily", alpha=0.5)
axes.plot(sales["day"], sales["7-day mean"], label="7-day mean")
axes.set_title("Sales, first quarter")
axes.legend()
figure.autofmt_xdate()
figure.savefig("plot.png")
print("wrote plot.png")
