# Never ends on its own: the sandbox kills its container at the time limit (exit code 124).
while True:
    pass
