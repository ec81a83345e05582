# Asks for far more memory than the container may use: the kernel ends it.
hog = bytearray(1024 * 1024 * 1024)
print("allocated", len(hog))
