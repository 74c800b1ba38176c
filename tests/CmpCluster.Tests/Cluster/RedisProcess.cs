using System.Globalization;
using StackExchange.Redis;

namespace CmpCluster.Tests.Cluster;

/// <summary>A real redis-server for a test: loopback, its own port and folder, AOF with fsync on every write when asked.</summary>
public static class RedisProcess
{
    /// <summary>Starts <paramref name="process"/> as redis-server on <paramref name="port"/> and waits until it answers PING.</summary>
    public static async Task StartAsync(ClusterProcess process, int port, string directory, bool appendOnly = true, TimeSpan? timeout = null)
    {
        string[] persistence = appendOnly ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"];
        process.Start(ClusterProcesses.Which("redis-server")!, [
            "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", .. persistence,
            "--dir", directory, "--save", "", "--daemonize", "no"], directory);
        await process.WaitReadyAsync(null, timeout ?? TimeSpan.FromSeconds(60), async () =>
        {
            try
            {
                using ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},connectTimeout=1000");
                await redis.GetDatabase().PingAsync();
                return true;
            }
            catch (RedisException)
            {
                return false; // still loading the AOF, or not listening yet
            }
        });
    }
}

/// <summary>
/// A redis-server of a test class's own, without persistence, on a free loopback port in a temporary directory; not
/// started where redis-server is missing (the class's [ClusterFact]s are skipped there).
/// </summary>
public sealed class ScratchRedis(string name) : IAsyncDisposable
{
    private readonly ClusterProcess _process = new(name);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "cmp-" + name + "-" + Guid.NewGuid().ToString("N")[..12]);
    private int _port;

    /// <summary>StackExchange.Redis connection string of the server.</summary>
    public string Connection => $"127.0.0.1:{_port}";

    public async Task StartAsync()
    {
        if (ClusterProcesses.Which("redis-server") is null)
        {
            return;
        }
        Directory.CreateDirectory(_root);
        _port = CmpCluster.Tests.EndToEnd.NodeLaunch.FreeLoopbackPorts(1)[0];
        await RedisProcess.StartAsync(_process, _port, _root, appendOnly: false);
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}
