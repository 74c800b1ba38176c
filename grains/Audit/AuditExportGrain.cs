using CmpCluster.Contracts;
using Orleans.Concurrency;

namespace CmpCluster.Grains.Audit;

/// <summary>Pages of the audit store as JSON Lines, for the admin export (gateway/Admin/AuditEndpoints.cs).</summary>
[StatelessWorker]
public sealed class AuditExportGrain(IAuditStore store) : Grain, IAuditExportGrain
{
    public async Task<AuditExportPage> ReadAsync(string? cursor, int limit)
    {
        if (limit is < 1 or > AuditExportPage.MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, $"limit must be 1 .. {AuditExportPage.MaxLimit}");
        }
        AuditPage page = await store.ReadAsync(cursor, limit);
        return new AuditExportPage(page.Records.Select(AuditJson.ToLine).ToArray(), page.NextCursor, page.More);
    }
}
