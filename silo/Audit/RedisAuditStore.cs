using System.Globalization;
using System.Text.RegularExpressions;
using CmpCluster.Grains.Audit;
using StackExchange.Redis;

namespace CmpCluster.Silo.Audit;

/// <summary>
/// The cluster's audit store in Redis (Node:Mode=Cluster): every silo appends its own chain to one stream,
/// <c>{ServiceId}/audit/records</c> (field <c>r</c>: the record as one JSON object, grains/Audit/AuditJson.cs), whose
/// entry ids give the global order and the export cursor; <c>{ServiceId}/audit/chains</c> (a list) is the chain index
/// and <c>{ServiceId}/audit/heads</c> (a hash) each chain's last sequence and hash. A batch is one MULTI/EXEC, so the
/// index entry of a new chain is stored with its first records and no other client's write lands in between. Durable
/// as Redis is configured: with AOF and <c>appendfsync always</c> (deploy/local/cluster.sh) EXEC returns after fsync.
/// </summary>
public sealed partial class RedisAuditStore : IAuditStore, IAsyncDisposable, IDisposable
{
    private const string RecordField = "r";
    private readonly Lazy<Task<IConnectionMultiplexer>> _connection;
    private readonly bool _ownsConnection;
    private readonly RedisKey _records;
    private readonly RedisKey _chains;
    private readonly RedisKey _heads;

    public RedisAuditStore(ConfigurationOptions options, string serviceId)
        : this(serviceId, new Lazy<Task<IConnectionMultiplexer>>(async () => await ConnectionMultiplexer.ConnectAsync(options)), ownsConnection: true)
    {
    }

    public RedisAuditStore(IConnectionMultiplexer connection, string serviceId)
        : this(serviceId, new Lazy<Task<IConnectionMultiplexer>>(Task.FromResult(connection)), ownsConnection: false)
    {
    }

    private RedisAuditStore(string serviceId, Lazy<Task<IConnectionMultiplexer>> connection, bool ownsConnection)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceId);
        _connection = connection;
        _ownsConnection = ownsConnection;
        _records = $"{serviceId}/audit/records";
        _chains = $"{serviceId}/audit/chains";
        _heads = $"{serviceId}/audit/heads";
    }

    public async Task AppendAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken = default)
    {
        if (records.Count == 0)
        {
            return;
        }
        IDatabase database = await DatabaseAsync();
        ITransaction transaction = database.CreateTransaction();
        var commands = new List<Task>(records.Count + 2);
        if (records[0].Sequence == 1)
        {
            commands.Add(transaction.ListRightPushAsync(_chains, records[0].ChainId));
        }
        foreach (AuditRecord record in records)
        {
            commands.Add(transaction.StreamAddAsync(_records, RecordField, AuditJson.ToLine(record)));
        }
        AuditRecord last = records[^1];
        commands.Add(transaction.HashSetAsync(_heads, last.ChainId, HeadValue(last)));
        if (!await transaction.ExecuteAsync())
        {
            throw new RedisException("the audit batch transaction was not executed");
        }
        await Task.WhenAll(commands);
    }

    public async Task<AuditChainHead?> ReadHeadAsync(string chainId, CancellationToken cancellationToken = default)
    {
        IDatabase database = await DatabaseAsync();
        RedisValue value = await database.HashGetAsync(_heads, chainId);
        if (value.IsNullOrEmpty)
        {
            return null;
        }
        string[] parts = value.ToString().Split(':');
        return new AuditChainHead(long.Parse(parts[0], CultureInfo.InvariantCulture), Convert.FromHexString(parts[1]));
    }

    public async Task<IReadOnlyList<string>> ReadChainIndexAsync(CancellationToken cancellationToken = default)
    {
        IDatabase database = await DatabaseAsync();
        RedisValue[] chains = await database.ListRangeAsync(_chains);
        return chains.Select(c => c.ToString()).ToArray();
    }

    public async Task<AuditPage> ReadAsync(string? cursor, int limit, CancellationToken cancellationToken = default)
    {
        if (!string.IsNullOrEmpty(cursor) && !StreamId().IsMatch(cursor))
        {
            throw new ArgumentException("malformed audit cursor: expected a stream entry id such as 1700000000000-0", nameof(cursor));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        IDatabase database = await DatabaseAsync();
        // "(id" is an exclusive start (Redis 6.2 and later).
        StreamEntry[] entries = await database.StreamRangeAsync(_records, string.IsNullOrEmpty(cursor) ? "-" : "(" + cursor, "+", limit + 1);
        bool more = entries.Length > limit;
        var records = new List<AuditRecord>(Math.Min(entries.Length, limit));
        string next = string.IsNullOrEmpty(cursor) ? "0-0" : cursor;
        foreach (StreamEntry entry in entries.Take(limit))
        {
            records.Add(AuditJson.Parse(entry[RecordField].ToString(), out _));
            next = entry.Id.ToString();
        }
        return new AuditPage(records, next, more);
    }

    public async ValueTask DisposeAsync()
    {
        if (_ownsConnection && _connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully)
        {
            await (await _connection.Value).DisposeAsync();
        }
    }

    public void Dispose()
    {
        if (_ownsConnection && _connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully)
        {
            _connection.Value.Result.Dispose();
        }
    }

    private static string HeadValue(AuditRecord record) =>
        string.Create(CultureInfo.InvariantCulture, $"{record.Sequence}:{Convert.ToHexStringLower(record.ComputeHash())}");

    private async Task<IDatabase> DatabaseAsync() => (await _connection.Value).GetDatabase();

    [GeneratedRegex("^[0-9]{1,20}-[0-9]{1,20}$")]
    private static partial Regex StreamId();
}
