using System.Globalization;
using CmpCluster.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using StackExchange.Redis;

namespace CmpCluster.Silo.Storage;

/// <summary>
/// Grain storage in Redis for state that has a lifetime (<see cref="IStateLifetime"/>: transactions), used in cluster mode.
/// Each state is a hash <c>{ServiceId}/state/{name}/{grainId}</c> (fields <c>e</c>: ETag, <c>d</c>: payload); its expiry
/// is the key's own Redis expiry (PEXPIREAT), so a closed transaction disappears from Redis at the end of its retention
/// without anyone reading it again; its due time is a member of the sorted set <c>{ServiceId}/due/{name}</c>.
/// </summary>
/// <remarks>
/// One Lua script per write checks the ETag, stores the payload, sets or clears the expiry and adds or removes the due
/// entry: Redis runs it atomically, so no crash leaves a state without its deadline entry or the reverse. ETags are random,
/// so a state that expired and was written again cannot be matched by an ETag from before (no ABA). The script touches
/// two keys: on a sharded Redis Cluster both would need one hash slot; this store targets a single Redis (with replicas),
/// as the rest of the cluster's state does.
/// </remarks>
public sealed class RedisLifetimeGrainStorage : IGrainStorage, IStateLifetimeIndex, IAsyncDisposable
{
    private const string WriteScript = """
        local current = redis.call('HGET', KEYS[1], 'e')
        if ARGV[1] == '' then
          if current then return 0 end
        elseif current ~= ARGV[1] then
          return 0
        end
        redis.call('HSET', KEYS[1], 'e', ARGV[2], 'd', ARGV[3])
        if ARGV[5] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[5]) else redis.call('PERSIST', KEYS[1]) end
        if ARGV[4] ~= '' then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[6]) else redis.call('ZREM', KEYS[2], ARGV[6]) end
        return 1
        """;

    private const string ClearScript = """
        local current = redis.call('HGET', KEYS[1], 'e')
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
    private readonly string _stateName;
    private readonly Lazy<Task<IConnectionMultiplexer>> _connection;
    private readonly IGrainStorageSerializer _serializer;
    private readonly IActivatorProvider _activators;

    /// <param name="serviceId">Orleans ServiceId: every key starts with it, so several services can share one Redis.</param>
    /// <param name="stateName">The one state name this provider's due index serves (the transaction grain's "transaction").</param>
    public RedisLifetimeGrainStorage(ConfigurationOptions options, string serviceId, string stateName,
        IGrainStorageSerializer serializer, IActivatorProvider activators)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceId);
        _prefix = serviceId;
        _stateName = stateName;
        _serializer = serializer;
        _activators = activators;
        _connection = new Lazy<Task<IConnectionMultiplexer>>(async () => await ConnectionMultiplexer.ConnectAsync(options));
    }

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        IDatabase database = await DatabaseAsync();
        HashEntry[] fields = await database.HashGetAllAsync(StateKey(stateName, grainId));
        RedisValue etag = fields.FirstOrDefault(f => f.Name == "e").Value;
        RedisValue data = fields.FirstOrDefault(f => f.Name == "d").Value;
        if (etag.IsNullOrEmpty || data.IsNull)
        {
            grainState.State = _activators.GetActivator<T>().Create();
            grainState.ETag = null;
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
            [StateKey(stateName, grainId), DueKey(stateName)],
            [grainState.ETag ?? "", etag, payload, due, expires, grainId.ToString()]);
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
            [StateKey(stateName, grainId), DueKey(stateName)], [grainState.ETag ?? "", grainId.ToString()]);
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
        RedisValue[] members = await database.SortedSetRangeByScoreAsync(DueKey(_stateName), double.NegativeInfinity,
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

    /// <summary>Registers the provider <paramref name="name"/> and its deadline index for the state <paramref name="stateName"/>.</summary>
    public static IServiceCollection Add(IServiceCollection services, string name, string stateName, Func<IServiceProvider, (ConfigurationOptions Options, string ServiceId)> connection)
    {
        services.AddKeyedSingleton<IGrainStorage>(name, (sp, _) =>
        {
            (ConfigurationOptions options, string serviceId) = connection(sp);
            IGrainStorageSerializer serializer = sp.GetKeyedService<IGrainStorageSerializer>(name)
                ?? sp.GetRequiredService<IGrainStorageSerializer>();
            return new RedisLifetimeGrainStorage(options, serviceId, stateName, serializer, sp.GetRequiredService<IActivatorProvider>());
        });
        services.AddKeyedSingleton<IStateLifetimeIndex>(name, (sp, key) => (IStateLifetimeIndex)sp.GetRequiredKeyedService<IGrainStorage>(key));
        return services;
    }

    private async Task<IDatabase> DatabaseAsync() => (await _connection.Value).GetDatabase();

    private RedisKey StateKey(string stateName, GrainId grainId) => $"{_prefix}/state/{stateName}/{grainId}";

    private RedisKey DueKey(string stateName) => $"{_prefix}/due/{stateName}";

    private static string NewETag() => Random.Shared.NextInt64(1, long.MaxValue).ToString("x", CultureInfo.InvariantCulture);

    private static string Millis(DateTimeOffset? time) => time?.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) ?? "";
}
