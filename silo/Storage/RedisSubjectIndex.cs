using CmpCluster.Grains.EndEntities;
using StackExchange.Redis;

namespace CmpCluster.Silo.Storage;

/// <summary>
/// The cluster's subject-DN index (<see cref="ISubjectIndex"/>): one Redis set of usernames per DN key,
/// <c>{ServiceId}/index/{dnKey}</c>. SADD and SREM are idempotent, so an entry written again after a crash changes nothing.
/// </summary>
public sealed class RedisSubjectIndex(ConfigurationOptions options, string serviceId) : ISubjectIndex, IAsyncDisposable
{
    private readonly Lazy<Task<IConnectionMultiplexer>> _connection =
        new(async () => await ConnectionMultiplexer.ConnectAsync(options));

    public async Task AddAsync(string dnKey, string username) => await (await DatabaseAsync()).SetAddAsync(Key(dnKey), username);

    public async Task RemoveAsync(string dnKey, string username) => await (await DatabaseAsync()).SetRemoveAsync(Key(dnKey), username);

    public async Task<IReadOnlyList<string>> FindAsync(string dnKey)
    {
        RedisValue[] members = await (await DatabaseAsync()).SetMembersAsync(Key(dnKey));
        return members.Select(m => m.ToString()).Order(StringComparer.Ordinal).ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection.IsValueCreated)
        {
            await (await _connection.Value).DisposeAsync();
        }
    }

    private async Task<IDatabase> DatabaseAsync() => (await _connection.Value).GetDatabase();

    private RedisKey Key(string dnKey) => $"{serviceId}/index/{dnKey}";
}
