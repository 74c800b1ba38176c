namespace CmpCluster.Grains.Transactions;

/// <summary>How many issuances run in this silo right now, against Cmp:MaxConcurrentIssuances (0: no limit).</summary>
internal static class IssuanceCapacity
{
    private static int _inFlight;

    public static bool TryEnter(int max)
    {
        if (max <= 0)
        {
            return true;
        }
        if (Interlocked.Increment(ref _inFlight) <= max)
        {
            return true;
        }
        Interlocked.Decrement(ref _inFlight);
        return false;
    }

    public static void Exit(int max)
    {
        if (max > 0)
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }
}
