using CmpCluster.Grains.EndEntities;
using CmpCluster.Silo.Storage;
using CmpCluster.Tests.Cluster;
using StackExchange.Redis;
using Xunit;

namespace CmpCluster.Tests.Storage;

/// <summary>
/// The subject-DN index kept by the store itself (silo/Storage/SqliteSubjectIndex.cs, RedisSubjectIndex.cs): what the
/// end-entity grains write is what a lookup finds, an entry written twice is one entry, and it survives a restart.
/// </summary>
public sealed class SubjectIndexStoreTests : IDisposable
{
    private readonly TempDataDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The behaviour both stores share.</summary>
    internal static async Task IndexBehavesAsync(ISubjectIndex index)
    {
        string key = "dn/" + Guid.NewGuid().ToString("N");
        Assert.Empty(await index.FindAsync(key));
        await index.AddAsync(key, "device-b");
        await index.AddAsync(key, "device-a");
        // Written again (an end entity re-enrolled, or healing an entry a crash left unwritten): still one entry.
        await index.AddAsync(key, "device-b");
        Assert.Equal(["device-a", "device-b"], await index.FindAsync(key));
        await index.RemoveAsync(key, "device-b");
        // Removing what is not there changes nothing.
        await index.RemoveAsync(key, "device-c");
        Assert.Equal(["device-a"], await index.FindAsync(key));
        Assert.Empty(await index.FindAsync("dn/" + Guid.NewGuid().ToString("N")));
    }

    [Fact]
    public async Task Sqlite_finds_what_was_added_once_per_username_and_keeps_it_across_a_restart()
    {
        using (var index = new SqliteSubjectIndex(_dir.Options()))
        {
            await IndexBehavesAsync(index);
            await index.AddAsync("dn/kept", "device-kept");
        }
        using var reopened = new SqliteSubjectIndex(_dir.Options());
        Assert.Equal(["device-kept"], await reopened.FindAsync("dn/kept"));
    }
}

/// <summary>The Redis subject index against a real redis-server on a free loopback port; skipped without redis-server.</summary>
public sealed class RedisSubjectIndexTests : IAsyncLifetime
{
    private readonly ScratchRedis _redis = new("subject-index-redis");

    public Task InitializeAsync() => _redis.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [ClusterFact]
    public async Task Redis_keeps_one_set_per_dn_under_the_service_id()
    {
        string service = "svc-" + Guid.NewGuid().ToString("N")[..8];
        var options = ConfigurationOptions.Parse(_redis.Connection);
        await using var index = new RedisSubjectIndex(options, service);
        await SubjectIndexStoreTests.IndexBehavesAsync(index);

        // Another service sharing the Redis sees nothing of this one's entries.
        await index.AddAsync("dn/shared", "device-1");
        await using var other = new RedisSubjectIndex(options, "other-" + service);
        Assert.Empty(await other.FindAsync("dn/shared"));
        using ConnectionMultiplexer client = await ConnectionMultiplexer.ConnectAsync(options);
        Assert.Equal(["device-1"], (await client.GetDatabase().SetMembersAsync($"{service}/index/dn/shared")).Select(m => m.ToString()));
    }
}
