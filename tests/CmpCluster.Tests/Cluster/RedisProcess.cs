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
