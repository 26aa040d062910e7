"""String helpers of more than one track, pure Python (the metrics import them)."""


def longest_common_run(a, b):
    """Length of the longest common contiguous run of two sequences (tokens or characters)."""
    best, previous = 0, [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                current[j + 1] = previous[j] + 1
                best = max(best, current[j + 1])
        previous = current
    return best
