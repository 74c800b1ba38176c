using CmpCluster.Grains.Audit;
using CmpCluster.Silo.Audit;
using CmpCluster.Tests.Cluster;
using CmpCluster.Tests.EndToEnd;
using StackExchange.Redis;
using Xunit;

namespace CmpCluster.Tests.Audit;

/// <summary>
/// The cluster's audit store on a real redis-server (AOF, appendfsync always, a free loopback port): two writers'
/// chains in one stream, read back page by page and verified; an append while Redis is down is refused, and the chain
/// continues from the head Redis kept once it is back. Skipped where redis-server is not installed.
/// </summary>
public sealed class RedisAuditStoreTests : IAsyncLifetime
{
    private const string ServiceId = "audit-test";
    private readonly ClusterProcess _redis = new("audit-redis");
    private readonly string _root = Path.Combine(Path.GetTempPath(), "cmp-audit-redis-" + Guid.NewGuid().ToString("N")[..12]);
    private int _port;

    private string Connection => $"127.0.0.1:{_port}";

    public async Task InitializeAsync()
    {
        if (ClusterProcesses.Which("redis-server") is null)
        {
            return;
        }
        Directory.CreateDirectory(_root);
        _port = NodeLaunch.FreeLoopbackPorts(1)[0];
        await StartRedisAsync();
    }

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [ClusterFact]
    public async Task Two_writers_chains_round_trip_through_redis_and_verify()
    {
        await using var storeA = new RedisAuditStore(Options(), ServiceId);
        await using var storeB = new RedisAuditStore(Options(), ServiceId);
        using AuditSigningKey keyA = AuditSigningKey.Ephemeral();
        using AuditSigningKey keyB = AuditSigningKey.Ephemeral();
        AuditTrail a = AuditTesting.Trail(storeA, keyA, "silo-a");
        AuditTrail b = AuditTesting.Trail(storeB, keyB, "silo-b");
        await a.StartAsync();
        await b.StartAsync();
        await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            AuditTrail trail = i % 2 == 0 ? a : b;
            for (int j = 0; j < 10; j++)
            {
                await trail.AppendAsync(AuditTesting.Event(i * 100 + j));
            }
        })));
        await a.CheckpointAsync();
        await b.StopAsync();
        await a.StopAsync();

        List<AuditRecord> records = await AuditTesting.ReadAllAsync(storeA, pageSize: 13);
        Assert.Equal(160, records.Count(r => r.Type == AuditEventType.CertificateSigned));
        Assert.Equal([a.ChainId, b.ChainId], await storeB.ReadChainIndexAsync());
        Assert.Equal(records.Where(r => r.ChainId == b.ChainId).Max(r => r.Sequence), (await storeA.ReadHeadAsync(b.ChainId))!.Sequence);

        string[] keyFiles = await WritePublicKeysAsync(keyA, keyB);
        (int exit, string output) = await VerifyAsync(keyFiles);
        Assert.True(exit == 0, output);
        Assert.Contains($"OK: {records.Count} records, 2 chains, 5 checkpoints", output);

        // Someone with access to Redis deletes one record from the stream.
        using ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync(Connection);
        StreamEntry[] entries = await redis.GetDatabase().StreamRangeAsync($"{ServiceId}/audit/records");
        StreamEntry victim = entries.First(e => e["r"].ToString().Contains("\"CertificateSigned\"", StringComparison.Ordinal));
        await redis.GetDatabase().StreamDeleteAsync($"{ServiceId}/audit/records", [victim.Id]);
        (exit, output) = await VerifyAsync(keyFiles);
        Assert.True(exit == 1, output);
        Assert.Contains("(record removed, inserted or reordered)", output);
    }

    [ClusterFact]
    public async Task An_append_while_redis_is_down_is_refused_and_the_chain_continues_after_its_restart()
    {
        await using var store = new RedisAuditStore(Options(), ServiceId);
        using AuditSigningKey key = AuditSigningKey.Ephemeral();
        AuditTrail trail = AuditTesting.Trail(store, key, "silo-a");
        await trail.StartAsync();
        await trail.AppendAsync(AuditTesting.Event(1));

        await _redis.KillAsync();
        await Assert.ThrowsAsync<AuditUnavailableException>(() => trail.AppendAsync(AuditTesting.Event(2)));

        await StartRedisAsync(); // replays the AOF
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await trail.AppendAsync(AuditTesting.Event(3));
                break;
            }
            catch (AuditUnavailableException) when (attempt < 30)
            {
                await Task.Delay(500); // the client reconnects on its own
            }
        }
        await trail.StopAsync();
        List<AuditRecord> records = await AuditTesting.ReadAllAsync(store, 50);
        Assert.Contains(records, r => r.Target == "issuing/000001");
        Assert.DoesNotContain(records, r => r.Target == "issuing/000002");
        Assert.Contains(records, r => r.Target == "issuing/000003");
        AuditVerifier verifier = AuditTesting.Verify(records.Select(AuditJson.ToLine), key);
        Assert.True(verifier.Error is null, verifier.Error?.ToString());
    }

    private ConfigurationOptions Options()
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(Connection);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.AsyncTimeout = 2000;
        options.SyncTimeout = 2000;
        return options;
    }

    private Task StartRedisAsync() => RedisProcess.StartAsync(_redis, _port, _root);

    private async Task<string[]> WritePublicKeysAsync(params AuditSigningKey[] keys)
    {
        var files = new List<string>();
        foreach (AuditSigningKey key in keys)
        {
            string file = Path.Combine(_root, key.KeyId + ".pub.pem");
            await File.WriteAllTextAsync(file, key.PublicKeyPem);
            files.Add(file);
        }
        return [.. files];
    }

    private async Task<(int Exit, string Output)> VerifyAsync(string[] keyFiles)
    {
        var output = new StringWriter();
        string[] args = ["audit", "verify", "--redis", Connection, "--service-id", ServiceId, .. keyFiles.SelectMany(f => new[] { "--public-key", f })];
        int exit = await AuditCommand.RunAsync(args, output);
        return (exit, output.ToString());
    }
}
