# An uncaught exception: the traceback goes to stderr and the exit code is 1.
def divide(a, b):
    return a / b


print("about to divide")
divide(1, 0)
