# The smallest program: prints one line, exits 0.
print("Hello world")
