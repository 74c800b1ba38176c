namespace CmpCluster.Grains;

/// <summary>Names shared by grains and the host: storage provider and state names.</summary>
public static class GrainNames
{
    /// <summary>The grain storage provider every CMP grain uses (SQLite single-node, Redis in a cluster).</summary>
    public const string Storage = "cmp";
}
