using Microsoft.Extensions.Configuration;
using StackExchange.Redis;

namespace CmpCluster.Gateway.Hosting;

/// <summary>
/// How a process finds the cluster: <c>Redis:ConnectionString</c> (StackExchange.Redis syntax, e.g.
/// <c>127.0.0.1:6380</c>) and the Orleans <c>Node:ClusterId</c> / <c>Node:ServiceId</c> (default <c>cmpcluster</c>).
/// Silos and gateways read the same keys, so one set of environment variables configures both.
/// </summary>
public sealed record ClusterConnection(string RedisConnectionString, string ClusterId, string ServiceId)
{
    public const string RedisKey = "Redis:ConnectionString";

    public static ClusterConnection Read(IConfiguration configuration)
    {
        string? redis = configuration[RedisKey];
        if (string.IsNullOrWhiteSpace(redis))
        {
            throw new InvalidOperationException($"{RedisKey} is required in cluster mode (e.g. 127.0.0.1:6379)");
        }
        return new ClusterConnection(redis, configuration["Node:ClusterId"] ?? "cmpcluster", configuration["Node:ServiceId"] ?? "cmpcluster");
    }

    /// <summary>
    /// Never give up on Redis: a restart (AOF replay) must look like a pause, not a failure. Writes issued while it is
    /// down fail after the sync timeout and surface as a transport fault (503), never as a lost acknowledgement.
    /// </summary>
    public ConfigurationOptions RedisOptions()
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(RedisConnectionString);
        options.AbortOnConnectFail = false;
        options.ConnectRetry = int.MaxValue;
        return options;
    }
}
