namespace CmpCluster.Grains;

/// <summary>Names shared by grains and the host: storage provider and state names.</summary>
public static class GrainNames
{
    /// <summary>The grain storage provider of certificates, end entities and CA state (SQLite single-node, Redis in a cluster).</summary>
    public const string Storage = "cmp";

    /// <summary>
    /// The provider of transaction state: a store that honours <see cref="Storage.IStateLifetime"/> (SQLite single-node, the
    /// project's Redis store in a cluster), so confirm deadlines are indexed with the state and closed transactions expire.
    /// </summary>
    public const string Transactions = "cmp-transactions";
}
