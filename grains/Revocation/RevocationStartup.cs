using System.Diagnostics;
using CmpCluster.Contracts;
using CmpCluster.Grains.Pki;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CmpCluster.Grains.Revocation;

public static partial class RevocationStartup
{
    /// <summary>How long a silo start keeps retrying a CA activation that fails for a cluster reason before it gives up.</summary>
    public static readonly TimeSpan RetryBudget = TimeSpan.FromMinutes(2);

    /// <summary>
    /// At every silo start, activates each CA of the key ring, which registers its durable CRL reminder, so CRLs are
    /// renewed before nextUpdate even if nobody revokes or asks (RFC 5280 §5.1.2.5); the first CRL is issued now if there
    /// is none. Startup code is not a grain, so it uses the read-only gateway-facing interface. Idempotent; every silo may do it.
    /// </summary>
    public static ISiloBuilder AddRevocationPublishing(this ISiloBuilder silo) => silo.AddStartupTask(async (services, cancel) =>
    {
        IGrainFactory grains = services.GetRequiredService<IGrainFactory>();
        ILogger logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RevocationStartup).FullName!);
        await ActivateAuthoritiesAsync(services.GetRequiredService<PkiKeyRing>().Authorities.Select(ca => ca.Name),
            ca => grains.GetGrain<ICrlGrain>(GrainKeys.CertificateAuthority(ca)).GetCrlAsync(), logger, RetryBudget, cancel);
    });

    /// <summary>
    /// Runs <paramref name="activate"/> for each CA, retrying failures of the cluster (an <see cref="OrleansException"/>,
    /// such as <see cref="SiloUnavailableException"/>, or a response timeout) for up to <paramref name="budget"/>; anything
    /// else, or a cluster failure that outlasts the budget, stops the silo start as before.
    /// </summary>
    /// <remarks>
    /// Why retry: startup tasks run as soon as the silo is Active, and right after a crash the membership view may still
    /// list silos that are dead but not yet declared so. The CA's reminder registration is routed by the reminder ring; a
    /// call routed to such a silo fails with SiloUnavailableException once its death is seen (in the failure observed, the
    /// call went to this very silo's previous incarnation, restarted on the same port). That exception escaped the startup
    /// task and stopped the silo an operator had just restarted ("exited before it was ready" in
    /// ClusterFaultTests.RedisRestartedDuringStream); a moment later the same call succeeds.
    /// </remarks>
    public static async Task ActivateAuthoritiesAsync(IEnumerable<string> caNames, Func<string, Task> activate, ILogger logger,
        TimeSpan budget, CancellationToken cancel)
    {
        var elapsed = Stopwatch.StartNew();
        foreach (string ca in caNames)
        {
            TimeSpan delay = TimeSpan.FromMilliseconds(500);
            for (int attempt = 1; ; attempt++)
            {
                cancel.ThrowIfCancellationRequested();
                try
                {
                    await activate(ca);
                    break;
                }
                catch (Exception e) when (e is OrleansException or TimeoutException && elapsed.Elapsed + delay < budget)
                {
                    LogActivationRetry(logger, ca, attempt, delay, e.Message);
                }
                await Task.Delay(delay, cancel);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    [LoggerMessage(EventId = 520, Level = LogLevel.Warning,
        Message = "CA {Ca}: activation at silo start failed (attempt {Attempt}), retrying in {Delay}: {Reason}")]
    private static partial void LogActivationRetry(ILogger logger, string ca, int attempt, TimeSpan delay, string reason);
}
