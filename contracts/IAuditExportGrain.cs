namespace CmpCluster.Contracts;

/// <summary>
/// Reads the audit trail for export (any key; a stateless worker in every silo, reading the cluster's audit store).
/// Records come in store order as JSON Lines objects (the format of grains/Audit/AuditJson.cs).
/// </summary>
[Alias("CmpCluster.IAuditExportGrain")]
public interface IAuditExportGrain : IGrainWithStringKey
{
    /// <summary>Up to <paramref name="limit"/> (1 .. <see cref="AuditExportPage.MaxLimit"/>) records after <paramref name="cursor"/>
    /// (null: from the first). A malformed cursor throws <see cref="ArgumentException"/>.</summary>
    [Alias("Read")]
    Task<AuditExportPage> ReadAsync(string? cursor, int limit);
}

/// <summary>One page: each line one JSON object without its line break; <see cref="NextCursor"/> continues after the
/// last line (unchanged when the page is empty); <see cref="More"/>: more records were already waiting.</summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.AuditExportPage")]
public sealed record AuditExportPage(
    [property: Id(0)] IReadOnlyList<string> Lines,
    [property: Id(1)] string NextCursor,
    [property: Id(2)] bool More)
{
    public const int MaxLimit = 1000;
}
