using Microsoft.Extensions.Configuration;
using CmpCluster.Tests.EndToEnd;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;
using StackExchange.Redis;
using Xunit;

namespace CmpCluster.Tests.Cluster;

/// <summary>Runs a cluster test only where redis-server is installed (.ci/run installs it); otherwise a clear skip.</summary>
public sealed class ClusterFactAttribute : FactAttribute
{
    public ClusterFactAttribute()
    {
        if (ClusterProcesses.Which("redis-server") is null)
        {
            Skip = "redis-server is not installed (apt-get install redis-server): cluster fault tests skipped";
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<TestCluster>
{
    public const string Name = "redis cluster";
}

/// <summary>
/// redis-server (AOF, appendfsync always) + 2 silos (Node:Mode=Cluster, one shared PKI folder) + 2 standalone gateways
/// + HAProxy round-robin in front (no sticky sessions), all on free loopback ports, real processes. Membership is tuned
/// so a SIGKILLed silo is declared dead in ≈ 3 s instead of ≈ 11 s (ProbeTimeout 1 s, 2 missed probes) while another
/// silo is active to probe it; a silo restarts on its own ports, as an operator's would (see <see cref="StartSiloAsync"/>).
/// </summary>
public sealed class TestCluster : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly string _serviceId = "svc-" + Guid.NewGuid().ToString("N")[..8];
    /// <summary>HTTP, silo, gateway and management port of each of <see cref="Silos"/>, chosen once, kept across restarts.</summary>
    private int[][] _siloPorts = [];

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "cmpcluster-cluster", Guid.NewGuid().ToString("N")[..12]);
    public string DataDirectory => Path.Combine(Root, "shared");
    public string RootCaPath => Path.Combine(DataDirectory, "pki", "root-ca.pem");
    public string ServerCertPath => Path.Combine(Root, "tls", "server.pem");
    public int RedisPort { get; private set; }
    public ClusterProcess Redis { get; } = new("redis");
    public ClusterProcess[] Silos { get; } = [new("silo-1"), new("silo-2")];
    public ClusterProcess[] Gateways { get; } = [new("gateway-a"), new("gateway-b")];
    public ClusterProcess? LoadBalancer { get; private set; }
    public int[] GatewayPorts { get; private set; } = [];
    public int GatewayBHttpsPort { get; private set; }
    public int LoadBalancerPort { get; private set; }
    /// <summary>Every certificate any test's clients received: the checker compares storage with all of them.</summary>
    public System.Collections.Concurrent.ConcurrentBag<Receipt> Receipts { get; } = [];

    public bool Available => ClusterProcesses.Which("redis-server") is not null;

    /// <summary>The admin token of every silo's admin API, and the RA secret of CAs without their own (the KeyID alias <c>bykeyid</c>).</summary>
    public const string AdminToken = "cluster-admin-token", RaSecret = "cluster-ra-secret";

    public Uri GatewayUri(int i) => new($"http://127.0.0.1:{GatewayPorts[i]}/");

    /// <summary>Silo <paramref name="i"/>'s own device listener (CMP), and its management listener (admin API).</summary>
    public Uri SiloUri(int i) => new($"http://127.0.0.1:{_siloPorts[i][0]}/");
    public Uri SiloManagementUri(int i) => new($"http://127.0.0.1:{_siloPorts[i][3]}/");
    public Uri LoadBalancerUri => new($"http://127.0.0.1:{LoadBalancerPort}/");

    public string Diagnostics() => string.Join("\n", new[] { Redis }.Concat(Silos).Concat(Gateways).Concat(LoadBalancer is null ? [] : [LoadBalancer])
        .Select(p => $"--- {p.Name} (running={p.IsRunning}) ---\n{p.OutputTail(3000)}"));

    public async Task InitializeAsync()
    {
        if (!Available)
        {
            return;
        }
        Directory.CreateDirectory(DataDirectory);
        await CreateServerCertificateAsync();
        await CreateClusterTlsAsync(ClusterTlsDirectory, "silo", "gateway", "client");
        // One call, so no two of these ports can be the same.
        int[] ports = NodeLaunch.FreeLoopbackPorts(5 + 4 * Silos.Length);
        RedisPort = ports[0];
        GatewayPorts = [ports[1], ports[2]];
        GatewayBHttpsPort = ports[3];
        LoadBalancerPort = ports[4];
        _siloPorts = Silos.Select((_, i) => ports[(5 + 4 * i)..(9 + 4 * i)]).ToArray();
        await StartRedisAsync();
        // Both silos at once: they share the PKI folder, which the first to finish creates.
        await Task.WhenAll(Silos.Select(StartSiloAsync));
        await Task.WhenAll(Enumerable.Range(0, 2).Select(StartGatewayAsync));
        await StartLoadBalancerAsync();
    }

    public Task StartRedisAsync() => RedisProcess.StartAsync(Redis, RedisPort, Root, appendOnly: true, StartTimeout);

    /// <summary>
    /// Starts (or restarts) <paramref name="silo"/> on the ports it had before, as an operator restarts a silo: compose and
    /// the Dockerfile pin its address and Node:SiloPort, and Kubernetes hosting evicts silos whose pod is gone (deploy/).
    /// On its own endpoint a new silo declares its older generation dead as it joins (Orleans
    /// MembershipTableManager.CleanupMyTableEntries). A restart on fresh ports is a new silo beside a dead one that Redis
    /// still lists as Active, and once every silo was killed nothing evicts that entry quickly: a joining silo must get a
    /// ping answer from every Active entry (MembershipAgent.ValidateInitialConnectivity, retried up to MaxJoinAttemptTime,
    /// 5 min) and, while joining, probes only entries whose IAmAlive is older than IAmAliveTablePublishTimeout ×
    /// NumMissedTableIAmAliveLimit, 30 s × 3 (ClusterHealthMonitor.UpdateMonitoredSilos); ProbeTimeout and friends in
    /// <see cref="TuningArguments"/> do not shorten that. After RedisRestartedDuringStream killed both silos, silos on fresh
    /// ports became ready ≈ 65–95 s later, depending on when the dead ones had last written IAmAlive, against the 90 s
    /// StartTimeout: its intermittent failure. Mutual TLS did not cause it; it only shifted the timing.
    /// </summary>
    public async Task StartSiloAsync(ClusterProcess silo)
    {
        // Every process gets its own management port: the default (8081) would be shared by all of them.
        int[] ports = _siloPorts[Array.IndexOf(Silos, silo)];
        (string dll, string contentRoot) = NodeLaunch.LocateSilo();
        silo.Start(NodeLaunch.DotnetHost(), [dll, "--contentRoot", contentRoot, "--urls", $"http://127.0.0.1:{ports[0]}",
            $"--Management:Urls=http://127.0.0.1:{ports[3]}",
            "--Node:Mode=Cluster", $"--Redis:ConnectionString=127.0.0.1:{RedisPort}", $"--Node:DataDirectory={DataDirectory}",
            $"--Node:SiloPort={ports[1]}", $"--Node:GatewayPort={ports[2]}", $"--Node:ServiceId={_serviceId}", $"--Node:ClusterId={_serviceId}",
            "--Dashboard:Enabled=false", "--Tcp:Enabled=false", $"--Admin:Tokens:0={AdminToken}", "--Cmp:Aliases:bykeyid:Ca=KeyID",
            $"--Pki:CmpRaSecret={RaSecret}", .. TlsArguments("silo"), .. TuningArguments], Root);
        await silo.WaitReadyAsync(new Uri($"http://127.0.0.1:{ports[0]}/readyz"), StartTimeout);
    }

    /// <summary>Declares a dead silo in ≈ 3 s, and bounds calls that went to it, so tests need not wait the default ≈ 11 s.</summary>
    private static readonly string[] TuningArguments =
    [
        "--Orleans:Membership:ProbeTimeout=00:00:01", "--Orleans:Membership:NumMissedProbesLimit=2",
        "--Orleans:Membership:TableRefreshTimeout=00:00:02", "--Orleans:Messaging:ResponseTimeout=00:00:10",
        "--Orleans:Gateway:GatewayListRefreshPeriod=00:00:02",
        "--Logging:LogLevel:Default=Warning", "--Cmp:Aliases:ra:ConfirmWaitTime=00:30:00",
    ];

    public async Task StartGatewayAsync(int index)
    {
        var arguments = new List<string> { ClusterProcesses.LocateGateway(), $"--Redis:ConnectionString=127.0.0.1:{RedisPort}",
            $"--Node:ServiceId={_serviceId}", $"--Node:ClusterId={_serviceId}", $"--Kestrel:Endpoints:Http:Url=http://127.0.0.1:{GatewayPorts[index]}",
            $"--Management:Urls=http://127.0.0.1:{NodeLaunch.FreeLoopbackPorts(1)[0]}" };
        if (index == 1)
        {
            arguments.AddRange([$"--Kestrel:Endpoints:Https:Url=https://127.0.0.1:{GatewayBHttpsPort}",
                $"--Kestrel:Endpoints:Https:Certificate:Path={ServerCertPath}", $"--Kestrel:Endpoints:Https:Certificate:KeyPath={Path.Combine(Root, "tls", "server.key.pem")}"]);
        }
        Gateways[index].Start(NodeLaunch.DotnetHost(), [.. arguments, .. TlsArguments("gateway"), .. TuningArguments], Root);
        await Gateways[index].WaitReadyAsync(new Uri(GatewayUri(index), "readyz"), StartTimeout);
    }

    private async Task StartLoadBalancerAsync()
    {
        if (ClusterProcesses.Which("haproxy") is not { } haproxy)
        {
            return;
        }
        string config = Path.Combine(Root, "haproxy.cfg");
        // Round robin, no stickiness; a request is re-sent to the other gateway only when the connection failed
        // (nothing was sent), so a CMP message is never delivered twice by the balancer itself.
        await File.WriteAllTextAsync(config, $"""
            global
              maxconn 2000
            defaults
              mode http
              timeout connect 1s
              timeout client 60s
              timeout server 60s
              retries 3
              option redispatch
            frontend cmp
              bind 127.0.0.1:{LoadBalancerPort}
              default_backend gateways
            backend gateways
              balance roundrobin
              option httpchk GET /readyz
              server a 127.0.0.1:{GatewayPorts[0]} check inter 500ms fall 1 rise 2
              server b 127.0.0.1:{GatewayPorts[1]} check inter 500ms fall 1 rise 2

            """);
        LoadBalancer = new ClusterProcess("haproxy");
        LoadBalancer.Start(haproxy, ["-f", config, "-db"], Root);
        await LoadBalancer.WaitReadyAsync(new Uri(LoadBalancerUri, "readyz"), StartTimeout);
    }

    /// <summary>Restarts whatever a test killed, so the next test finds the whole cluster.</summary>
    public async Task EnsureRunningAsync()
    {
        if (!Redis.IsRunning)
        {
            await StartRedisAsync();
        }
        await Task.WhenAll(Silos.Where(s => !s.IsRunning).Select(StartSiloAsync));
        await Task.WhenAll(Enumerable.Range(0, 2).Where(i => !Gateways[i].IsRunning).Select(StartGatewayAsync));
        // Gateways that outlived every silo reconnect once their gateway list refreshes.
        await Task.WhenAll(Enumerable.Range(0, 2).Select(i => Gateways[i].WaitReadyAsync(new Uri(GatewayUri(i), "readyz"), StartTimeout)));
    }

    /// <summary>
    /// An Orleans client that finds the silos through Redis, as the gateways do (for the invariant checker), presenting the
    /// cluster certificate <paramref name="tlsName"/> from <paramref name="tlsDirectory"/> (default: this cluster's "client"),
    /// or no certificate at all when <paramref name="tlsName"/> is null.
    /// </summary>
    public async Task<(IHost Host, IClusterClient Client)> ConnectClientAsync(string? tlsName = "client", string? tlsDirectory = null, TimeSpan? timeout = null)
    {
        CmpCluster.Gateway.Hosting.ClusterTls? tls = null;
        if (tlsName is not null)
        {
            string folder = tlsDirectory ?? ClusterTlsDirectory;
            tls = CmpCluster.Gateway.Hosting.ClusterTls.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Cluster:Tls:CertificatePath"] = Path.Combine(folder, tlsName + ".pem"),
                ["Cluster:Tls:KeyPath"] = Path.Combine(folder, tlsName + ".key.pem"),
                ["Cluster:Tls:TrustedCaPath"] = Path.Combine(folder, "cluster-ca.pem"),
            }).Build());
        }
        IHost host = new HostBuilder().UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (_serviceId, _serviceId));
            client.UseRedisClustering($"127.0.0.1:{RedisPort}");
            if (tls is not null)
            {
                client.UseTls(tls.Configure);
            }
        }).Build();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        await host.StartAsync(cancel.Token);
        return (host, host.Services.GetRequiredService<IClusterClient>());
    }

    public async Task<List<string>> CertificateGrainKeysAsync()
    {
        using ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{RedisPort}");
        var keys = new List<string>();
        string marker = "/state/certificate/";
        await foreach (RedisKey key in redis.GetServer("127.0.0.1", RedisPort).KeysAsync(pattern: $"{_serviceId}{marker}*"))
        {
            string k = key.ToString();
            int from = k.IndexOf(marker, StringComparison.Ordinal) + marker.Length;
            keys.Add(k[from..k.LastIndexOf('/')]);
        }
        return keys;
    }

    /// <summary>The cluster CA and per-role certificates for mutual TLS between silos and gateways (Cluster:Tls).</summary>
    public string ClusterTlsDirectory => Path.Combine(Root, "cluster-tls");

    public string[] TlsArguments(string name) =>
    [
        $"--Cluster:Tls:CertificatePath={Path.Combine(ClusterTlsDirectory, name + ".pem")}",
        $"--Cluster:Tls:KeyPath={Path.Combine(ClusterTlsDirectory, name + ".key.pem")}",
        $"--Cluster:Tls:TrustedCaPath={Path.Combine(ClusterTlsDirectory, "cluster-ca.pem")}",
    ];

    /// <summary>Runs deploy/local/cluster-tls.sh, the script operators use, into <paramref name="directory"/>.</summary>
    public static async Task CreateClusterTlsAsync(string directory, params string[] names)
    {
        string script = Path.Combine(NodeLaunch.RepositoryRoot() ?? throw new InvalidOperationException("no checkout found"), "deploy", "local", "cluster-tls.sh");
        var info = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(directory);
        foreach (string name in names)
        {
            info.ArgumentList.Add(name);
        }
        using var process = System.Diagnostics.Process.Start(info)!;
        string output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, output);
    }

    private async Task CreateServerCertificateAsync()
    {
        string tls = Path.Combine(Root, "tls");
        Directory.CreateDirectory(tls);
        OpenSslResult result = await OpenSsl.RunAsync(tls, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "server.key.pem", "-out", "server.pem", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1");
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    public async Task DisposeAsync()
    {
        foreach (ClusterProcess process in Gateways.Concat(Silos).Concat(LoadBalancer is null ? [] : [LoadBalancer]).Append(Redis))
        {
            await process.DisposeAsync();
        }
        TempDirectory.DeleteQuietly(Root);
    }
}
