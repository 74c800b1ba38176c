using System.Globalization;
using CmpCluster.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using StackExchange.Redis;

namespace CmpCluster.Silo.Storage;

/// <summary>
/// Where a state lives in Redis: its key, the names of its two hash fields, and the sorted set that indexes due times.
/// </summary>
/// <param name="GrainIdFirst">Keys <c>{ServiceId}/state/{grainId}/{stateName}</c> (Orleans' Redis grain storage) rather than
/// <c>{ServiceId}/state/{stateName}/{grainId}</c>.</param>
/// <param name="DueIndex">The sorted set <c>{ServiceId}/due/{DueIndex}</c> of the grains whose due time is set.</param>
public sealed record RedisStateLayout(bool GrainIdFirst, string ETagField, string DataField, string DueIndex)
{
    /// <summary>The transactions' store: short field names, one due index per state name (the transaction's).</summary>
    public static RedisStateLayout Transactions(string stateName) => new(false, "e", "d", stateName);

    /// <summary>
    /// The layout of Orleans' own Redis grain storage (<c>Microsoft.Orleans.Persistence.Redis</c>: a hash with the fields
    /// <c>etag</c> and <c>data</c> under <c>{ServiceId}/state/{grainId}/{stateName}</c>), so the state a cluster wrote
    /// through it is read and written in place.
    /// </summary>
    public static RedisStateLayout Orleans(string dueIndex) => new(true, "etag", "data", dueIndex);
}

/// <summary>
/// Grain storage in Redis for state that may have a lifetime (<see cref="IStateLifetime"/>), used in cluster mode for
/// transactions and for certificates, end entities and CA state. Each state is a hash (<see cref="RedisStateLayout"/>:
/// ETag field, payload field); its expiry is the key's own Redis expiry (PEXPIREAT), so a closed transaction disappears
/// from Redis at the end of its retention without anyone reading it again; its due time is a member of the sorted set
/// <c>{ServiceId}/due/{index}</c>.
/// </summary>
/// <remarks>
/// One Lua script per write checks the ETag, stores the payload, sets or clears the expiry and adds or removes the due
/// entry: Redis runs it atomically, so no crash leaves a state without its deadline entry or the reverse. ETags are random,
/// so a state that expired and was written again cannot be matched by an ETag from before (no ABA). A hash whose payload
/// is empty (Orleans' storage clears a state that way) is a state that does not exist, whose ETag a write must still
/// present. The script touches two keys: on a sharded Redis Cluster both would need one hash slot; this store targets a
/// single Redis (with replicas), as the rest of the cluster's state does.
/// </remarks>
public sealed class RedisLifetimeGrainStorage : IGrainStorage, IStateLifetimeIndex, IAsyncDisposable
{
    // ARGV: 1 expected ETag ('' = none), 2 new ETag, 3 payload, 4 due (ms, '' = none), 5 expiry (ms, '' = none),
    // 6 due-index member, 7 ETag field, 8 payload field.
    private const string WriteScript = """
        local current = redis.call('HGET', KEYS[1], ARGV[7])
        if ARGV[1] == '' then
          if current then return 0 end
        elseif current ~= ARGV[1] then
          return 0
        end
        redis.call('HSET', KEYS[1], ARGV[7], ARGV[2], ARGV[8], ARGV[3])
        if ARGV[5] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[5]) else redis.call('PERSIST', KEYS[1]) end
        if ARGV[4] ~= '' then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[6]) else redis.call('ZREM', KEYS[2], ARGV[6]) end
        return 1
        """;

    private const string ClearScript = """
        local current = redis.call('HGET', KEYS[1], ARGV[3])
        if ARGV[1] == '' then
          if current then return 0 end
          return 1
        end
        if current ~= ARGV[1] then return 0 end
        redis.call('DEL', KEYS[1])
        redis.call('ZREM', KEYS[2], ARGV[2])
        return 1
        """;

    private readonly string _prefix;
    private readonly RedisStateLayout _layout;
    private readonly Lazy<Task<IConnectionMultiplexer>> _connection;
    private readonly IGrainStorageSerializer _serializer;
    private readonly IActivatorProvider _activators;

    /// <param name="serviceId">Orleans ServiceId: every key starts with it, so several services can share one Redis.</param>
    /// <param name="layout">Keys, fields and due index (<see cref="RedisStateLayout.Transactions"/>, <see cref="RedisStateLayout.Orleans"/>).</param>
    public RedisLifetimeGrainStorage(ConfigurationOptions options, string serviceId, RedisStateLayout layout,
        IGrainStorageSerializer serializer, IActivatorProvider activators)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceId);
        _prefix = serviceId;
        _layout = layout;
        _serializer = serializer;
        _activators = activators;
        _connection = new Lazy<Task<IConnectionMultiplexer>>(async () => await ConnectionMultiplexer.ConnectAsync(options));
    }

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        IDatabase database = await DatabaseAsync();
        HashEntry[] fields = await database.HashGetAllAsync(StateKey(stateName, grainId));
        RedisValue etag = fields.FirstOrDefault(f => f.Name == _layout.ETagField).Value;
        RedisValue data = fields.FirstOrDefault(f => f.Name == _layout.DataField).Value;
        if (etag.IsNullOrEmpty || data.IsNullOrEmpty)
        {
            grainState.State = _activators.GetActivator<T>().Create();
            // A cleared state (empty payload) keeps its key: the next write must present its ETag.
            grainState.ETag = etag.IsNullOrEmpty ? null : etag.ToString();
            grainState.RecordExists = false;
            return;
        }
        grainState.State = _serializer.Deserialize<T>(new BinaryData((byte[])data!)) ?? _activators.GetActivator<T>().Create();
        grainState.ETag = etag.ToString();
        grainState.RecordExists = true;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        IDatabase database = await DatabaseAsync();
        string etag = NewETag();
        (string due, string expires) = grainState.State is IStateLifetime lifetime
            ? (Millis(lifetime.DueAt), Millis(lifetime.ExpiresAt))
            : ("", "");
        byte[] payload = _serializer.Serialize(grainState.State).ToArray();
        var written = (long)await database.ScriptEvaluateAsync(WriteScript,
            [StateKey(stateName, grainId), DueKey()],
            [grainState.ETag ?? "", etag, payload, due, expires, grainId.ToString(), _layout.ETagField, _layout.DataField]);
        if (written != 1)
        {
            throw new InconsistentStateException($"Redis storage: ETag mismatch on write of '{stateName}' for grain {grainId}", null, grainState.ETag);
        }
        grainState.ETag = etag;
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        IDatabase database = await DatabaseAsync();
        var cleared = (long)await database.ScriptEvaluateAsync(ClearScript,
            [StateKey(stateName, grainId), DueKey()], [grainState.ETag ?? "", grainId.ToString(), _layout.ETagField]);
        if (cleared != 1)
        {
            throw new InconsistentStateException($"Redis storage: ETag mismatch on clear of '{stateName}' for grain {grainId}", null, grainState.ETag);
        }
        grainState.State = _activators.GetActivator<T>().Create();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    public async Task<IReadOnlyList<GrainId>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default)
    {
        IDatabase database = await DatabaseAsync();
        RedisValue[] members = await database.SortedSetRangeByScoreAsync(DueKey(), double.NegativeInfinity,
            now.ToUnixTimeMilliseconds(), take: max);
        return members.Select(m => GrainId.Parse(m.ToString())).ToArray();
    }

    /// <summary>Redis deletes expired keys itself; nothing to prune.</summary>
    public Task<int> PruneExpiredAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default) => Task.FromResult(0);

    public async ValueTask DisposeAsync()
    {
        if (_connection.IsValueCreated)
        {
            await (await _connection.Value).DisposeAsync();
        }
    }

    /// <summary>Registers the provider <paramref name="name"/>, laid out as <paramref name="layout"/>, and its deadline index.</summary>
    public static IServiceCollection Add(IServiceCollection services, string name, RedisStateLayout layout, Func<IServiceProvider, (ConfigurationOptions Options, string ServiceId)> connection)
    {
        services.AddKeyedSingleton<IGrainStorage>(name, (sp, _) =>
        {
            (ConfigurationOptions options, string serviceId) = connection(sp);
            IGrainStorageSerializer serializer = sp.GetKeyedService<IGrainStorageSerializer>(name)
                ?? sp.GetRequiredService<IGrainStorageSerializer>();
            return new RedisLifetimeGrainStorage(options, serviceId, layout, serializer, sp.GetRequiredService<IActivatorProvider>());
        });
        services.AddKeyedSingleton<IStateLifetimeIndex>(name, (sp, key) => (IStateLifetimeIndex)sp.GetRequiredKeyedService<IGrainStorage>(key));
        return services;
    }

    private async Task<IDatabase> DatabaseAsync() => (await _connection.Value).GetDatabase();

    private RedisKey StateKey(string stateName, GrainId grainId) =>
        _layout.GrainIdFirst ? $"{_prefix}/state/{grainId}/{stateName}" : $"{_prefix}/state/{stateName}/{grainId}";

    private RedisKey DueKey() => $"{_prefix}/due/{_layout.DueIndex}";

    private static string NewETag() => Random.Shared.NextInt64(1, long.MaxValue).ToString("x", CultureInfo.InvariantCulture);

    private static string Millis(DateTimeOffset? time) => time?.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) ?? "";
}
