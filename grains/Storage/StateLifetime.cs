namespace CmpCluster.Grains.Storage;

/// <summary>
/// Grain state that tells its store when it needs a look and when it may go. A store that supports it keeps both in the
/// same atomic write as the state itself, so no crash can separate "awaiting confirmation until T" from the index that
/// finds it at T, and a closed transaction is deleted by the store without its grain being activated again.
/// </summary>
public interface IStateLifetime
{
    /// <summary>When the owning grain must be asked to act (a confirm deadline, a wait deadline); null: never.</summary>
    DateTimeOffset? DueAt { get; }

    /// <summary>When the stored state may be deleted (the end of a closed transaction's retention); null: kept.</summary>
    DateTimeOffset? ExpiresAt { get; }
}

/// <summary>
/// What a lifetime-aware store offers the deadline sweeper (<see cref="Transactions.DeadlineSweeperGrain"/>): the grains
/// whose <see cref="IStateLifetime.DueAt"/> has passed, and the deletion of states past <see cref="IStateLifetime.ExpiresAt"/>.
/// Registered as a keyed singleton under the storage provider's name.
/// </summary>
public interface IStateLifetimeIndex
{
    /// <summary>Up to <paramref name="max"/> grains whose due time is at or before <paramref name="now"/>, earliest first.</summary>
    Task<IReadOnlyList<GrainId>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default);

    /// <summary>Deletes up to <paramref name="max"/> states whose expiry passed; returns how many. Stores with native expiry return 0.</summary>
    Task<int> PruneExpiredAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default);
}
