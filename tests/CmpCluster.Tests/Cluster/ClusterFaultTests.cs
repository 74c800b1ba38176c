using System.Diagnostics;
using CmpCluster.Tests.EndToEnd;
using Xunit;
using Xunit.Abstractions;

namespace CmpCluster.Tests.Cluster;

/// <summary>
/// Faults against a real Redis-backed cluster (<see cref="TestCluster"/>). After each test the invariant checker reads
/// every certificate back from storage. Streams run a few concurrent clients that retry transport failures with the
/// same bytes, as RFC 6712 clients may.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterFaultTests(TestCluster cluster, ITestOutputHelper output) : IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        if (cluster.Available)
        {
            await cluster.EnsureRunningAsync();
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [ClusterFact]
    public async Task IrThroughGatewayA_CertConfThroughGatewayB_NoStickySessions()
    {
        var enroller = new ClusterEnroller([cluster.GatewayUri(0), cluster.GatewayUri(1)], TimeSpan.FromSeconds(20), cluster.Receipts);
        Receipt? receipt = await enroller.EnrollAsync("sticky-free", step => cluster.GatewayUri(step == 2 ? 1 : 0));
        Assert.True(receipt is { Confirmed: true }, $"{string.Join("; ", enroller.CmpErrors.Concat(enroller.GaveUp))}\n{cluster.Diagnostics()}");
        await ClusterInvariants.CheckAsync(cluster, enroller, output.WriteLine);
    }

    [ClusterFact]
    public async Task OpenSslOverHttpsToGatewayB()
    {
        string work = Path.Combine(cluster.Root, "openssl-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(work);
        OpenSslResult key = await OpenSsl.RunAsync(work, "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "device.key.pem");
        Assert.Equal(0, key.ExitCode);
        OpenSslResult ir = await OpenSsl.RunAsync(work, "cmp", "-cmd", "ir", "-server", $"127.0.0.1:{cluster.GatewayBHttpsPort}",
            "-path", ".well-known/cmp/p/ra", "-tls_used", "-tls_trusted", cluster.ServerCertPath, "-tls_host", "127.0.0.1",
            "-ref", "ra", "-secret", "pass:changeit", "-trusted", cluster.RootCaPath, "-newkey", "device.key.pem",
            "-subject", "/CN=https-device/O=ClusterTest", "-certout", "device.cert.pem");
        Assert.True(ir.ExitCode == 0, $"{ir}\n{cluster.Diagnostics()}");
        // openssl confirmed it: the invariant checker must know this certificate was received.
        using var certificate = E2e.LoadCertificate(Path.Combine(work, "device.cert.pem"));
        cluster.Receipts.Add(new Receipt("https-device", E2e.SerialHex(certificate), certificate.RawData, Confirmed: true));
    }

    [ClusterFact]
    public async Task SiloKilledDuringStream_AcknowledgedCertificatesSurvive()
    {
        ClusterEnroller enroller = await StreamAsync("silo-kill", async () => await cluster.Silos[0].KillAsync());
        await cluster.EnsureRunningAsync();
        // The case this guards: a silo killed between signing and the transaction's next state write. The transaction
        // records the serial before anything is signed (grains/Certificates/CertificateIssuer.cs, step 2), so the client's
        // retry resumes that certificate; ClusterInvariants reports any extra signature no client saw as an orphan.
        await ClusterInvariants.CheckAsync(cluster, enroller, output.WriteLine);
    }

    [ClusterFact]
    public async Task RedisRestartedDuringStream_NothingAcknowledgedIsLost()
    {
        ClusterEnroller enroller = await StreamAsync("redis-restart", async () =>
        {
            await cluster.Redis.KillAsync(); // SIGKILL: only what appendfsync always put on disk comes back
            await Task.Delay(TimeSpan.FromSeconds(2));
            await cluster.StartRedisAsync();
        });
        // Restart both silos from Redis alone: what the checker then reads is what storage kept, not activation memory.
        await RestartSilosAsync();
        await ClusterInvariants.CheckAsync(cluster, enroller, output.WriteLine);
    }

    /// <summary>
    /// A rolling restart under load: each silo in turn is stopped gracefully (SIGTERM) and started again on its own
    /// endpoint, while clients enroll through the load balancer. The retry rule of the clients (ClusterEnroller): a
    /// transport failure (no HTTP answer, 5xx) is retried with the same bytes, so the transaction grain answers it from
    /// its stored state or resumes it; no enrollment may give up, and nothing acknowledged may be lost.
    /// </summary>
    [ClusterFact]
    public async Task RollingRestartUnderLoad_NoClientGivesUpAndNothingIsLost()
    {
        var graceful = new List<bool>();
        var stopwatch = Stopwatch.StartNew();
        TimeSpan restarted = TimeSpan.Zero;
        ClusterEnroller enroller = await StreamAsync("rolling", async () =>
        {
            foreach (ClusterProcess silo in cluster.Silos)
            {
                graceful.Add(await silo.StopGracefullyAsync(TimeSpan.FromSeconds(30)));
                await cluster.StartSiloAsync(silo);
            }
            restarted = stopwatch.Elapsed;
        }, TimeSpan.FromSeconds(45));
        output.WriteLine($"both silos restarted in turn within {restarted.TotalSeconds:0.0} s of the 45 s stream");
        Assert.True(restarted < TimeSpan.FromSeconds(42), "the restarts must happen while the clients enroll");
        output.WriteLine($"silos stopped gracefully: {string.Join(", ", graceful)}");
        Assert.All(graceful, Assert.True);
        await ClusterInvariants.CheckAsync(cluster, enroller, output.WriteLine);
    }

    [ClusterFact]
    public async Task GatewayKilledBehindLoadBalancer_ClientsRetryAndSucceed()
    {
        if (cluster.LoadBalancer is null)
        {
            output.WriteLine("haproxy is not installed: gateway A is killed and clients alternate between the gateways themselves");
        }
        ClusterEnroller enroller = await StreamAsync("gateway-kill", async () => await cluster.Gateways[0].KillAsync());
        await ClusterInvariants.CheckAsync(cluster, enroller, output.WriteLine);
    }

    /// <summary>4 clients enroll for 12 s (or <paramref name="duration"/>); the fault strikes after 3 s. Asserts every
    /// started enrollment ended: certificate or CMP error.</summary>
    private async Task<ClusterEnroller> StreamAsync(string prefix, Func<Task> fault, TimeSpan? duration = null)
    {
        IReadOnlyList<Uri> targets = cluster.LoadBalancer is not null ? [cluster.LoadBalancerUri] : [cluster.GatewayUri(0), cluster.GatewayUri(1)];
        var enroller = new ClusterEnroller(targets, TimeSpan.FromSeconds(45), cluster.Receipts);
        using var stop = new CancellationTokenSource(duration ?? TimeSpan.FromSeconds(12));
        int started = 0;
        var stopwatch = Stopwatch.StartNew();
        Task[] workers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await enroller.EnrollAsync($"{prefix}-{w}-{Interlocked.Increment(ref started)}");
            }
        })).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(3));
        await fault();
        output.WriteLine($"fault done at {stopwatch.Elapsed.TotalSeconds:0.0} s");
        await Task.WhenAll(workers);
        int confirmed = enroller.Receipts.Count(r => r.Confirmed);
        output.WriteLine($"{started} started, {enroller.Receipts.Count(r => !r.Confirmed)} answered, {confirmed} confirmed, " +
            $"{enroller.CmpErrors.Count} CMP errors, {enroller.GaveUp.Count} gave up, {enroller.Retries} retries, {stopwatch.Elapsed.TotalSeconds:0.0} s");
        foreach (string error in enroller.CmpErrors.Take(5))
        {
            output.WriteLine("CMP error: " + error);
        }
        Assert.True(enroller.GaveUp.IsEmpty, $"transport failures outlasted the retries: {string.Join("; ", enroller.GaveUp.Take(5))}\n{cluster.Diagnostics()}");
        Assert.True(confirmed > 0, cluster.Diagnostics());
        return enroller;
    }

    private async Task RestartSilosAsync()
    {
        var stopwatch = Stopwatch.StartNew();
        foreach (ClusterProcess silo in cluster.Silos)
        {
            await silo.KillAsync();
        }
        await cluster.EnsureRunningAsync();
        output.WriteLine($"both silos restarted from storage and gateways ready in {stopwatch.Elapsed.TotalSeconds:0.0} s");
    }
}
