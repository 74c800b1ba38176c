using System.Globalization;

namespace CmpCluster.Grains.Audit;

/// <summary>
/// Where the audit trail is kept: append-only records in one global order (the export and verification order) plus
/// the chain index (<see cref="AuditCheckpoint"/>). The host picks the backend: SQLite for the single node, Redis in a
/// cluster, <see cref="InMemoryAuditStore"/> for grain tests.
/// </summary>
public interface IAuditStore
{
    /// <summary>
    /// Appends consecutive records of one chain in one atomic, durable write: when the task completes they are all
    /// stored, when it fails none is. A batch that starts at sequence 1 also enters the chain in the chain index, in
    /// the same write.
    /// </summary>
    Task AppendAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken = default);

    /// <summary>The last stored record of <paramref name="chainId"/> (sequence and hash), or null if it has none.</summary>
    Task<AuditChainHead?> ReadHeadAsync(string chainId, CancellationToken cancellationToken = default);

    /// <summary>Every chain id, in the order the chains were entered.</summary>
    Task<IReadOnlyList<string>> ReadChainIndexAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Up to <paramref name="limit"/> records after <paramref name="cursor"/> (null or empty: from the start) in store
    /// order. The cursor is opaque to callers; a malformed one throws <see cref="ArgumentException"/>.
    /// </summary>
    Task<AuditPage> ReadAsync(string? cursor, int limit, CancellationToken cancellationToken = default);
}

public sealed record AuditChainHead(long Sequence, byte[] Hash);

/// <summary>A page of records; <see cref="NextCursor"/> continues after the last one (the same cursor when the page is
/// empty), <see cref="More"/> says whether records were already waiting beyond this page.</summary>
public sealed record AuditPage(IReadOnlyList<AuditRecord> Records, string NextCursor, bool More);

/// <summary>Keeps the trail in memory, for grain tests. <see cref="Unavailable"/> makes every write fail.</summary>
public sealed class InMemoryAuditStore : IAuditStore
{
    private readonly List<AuditRecord> _records = [];
    private readonly List<string> _chains = [];
    private readonly object _lock = new();

    /// <summary>While true, <see cref="AppendAsync"/> throws <see cref="IOException"/> and stores nothing.</summary>
    public bool Unavailable { get; set; }

    public IReadOnlyList<AuditRecord> Records
    {
        get
        {
            lock (_lock)
            {
                return _records.ToArray();
            }
        }
    }

    public Task AppendAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken = default)
    {
        if (Unavailable)
        {
            throw new IOException("the in-memory audit store is set unavailable");
        }
        lock (_lock)
        {
            if (records.Count > 0 && records[0].Sequence == 1)
            {
                _chains.Add(records[0].ChainId);
            }
            _records.AddRange(records);
        }
        return Task.CompletedTask;
    }

    public Task<AuditChainHead?> ReadHeadAsync(string chainId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            AuditRecord? last = _records.LastOrDefault(r => r.ChainId == chainId);
            return Task.FromResult(last is null ? null : new AuditChainHead(last.Sequence, last.ComputeHash()));
        }
    }

    public Task<IReadOnlyList<string>> ReadChainIndexAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<string>>(_chains.ToArray());
        }
    }

    public Task<AuditPage> ReadAsync(string? cursor, int limit, CancellationToken cancellationToken = default)
    {
        int start = 0;
        if (!string.IsNullOrEmpty(cursor) && (!int.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out start)))
        {
            throw new ArgumentException("malformed audit cursor", nameof(cursor));
        }
        lock (_lock)
        {
            start = Math.Min(start, _records.Count);
            AuditRecord[] page = _records.Skip(start).Take(limit).ToArray();
            int next = start + page.Length;
            return Task.FromResult(new AuditPage(page, next.ToString(CultureInfo.InvariantCulture), next < _records.Count));
        }
    }
}
