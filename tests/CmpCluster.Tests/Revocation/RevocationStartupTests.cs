using CmpCluster.Grains.Revocation;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Runtime;
using Xunit;

namespace CmpCluster.Tests.Revocation;

/// <summary>
/// The CA activation every silo runs at start (<see cref="RevocationStartup"/>): a failure of the cluster right after a
/// restart is retried, a fault of the CA itself still stops the start.
/// </summary>
public sealed class RevocationStartupTests
{
    [Fact]
    public async Task A_silo_that_became_unavailable_is_retried_until_the_activation_succeeds()
    {
        var calls = new List<string>();
        int failures = 2;
        await RevocationStartup.ActivateAuthoritiesAsync(["issuing", "other"], ca =>
        {
            calls.Add(ca);
            return ca == "issuing" && failures-- > 0
                ? Task.FromException(new SiloUnavailableException("the target silo became unavailable"))
                : Task.CompletedTask;
        }, NullLogger.Instance, TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.Equal(["issuing", "issuing", "issuing", "other"], calls);
    }

    [Fact]
    public async Task A_response_timeout_is_retried_too()
    {
        int calls = 0;
        await RevocationStartup.ActivateAuthoritiesAsync(["issuing"],
            _ => ++calls == 1 ? Task.FromException(new TimeoutException("response timeout")) : Task.CompletedTask,
            NullLogger.Instance, TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task A_fault_that_is_not_the_clusters_stops_the_start_at_once()
    {
        int calls = 0;
        await Assert.ThrowsAsync<InvalidOperationException>(() => RevocationStartup.ActivateAuthoritiesAsync(["issuing"], _ =>
        {
            calls++;
            return Task.FromException(new InvalidOperationException("no CA 'issuing' in this silo's key ring"));
        }, NullLogger.Instance, TimeSpan.FromSeconds(30), CancellationToken.None));

        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task A_cluster_failure_that_outlasts_the_budget_stops_the_start()
    {
        int calls = 0;
        await Assert.ThrowsAsync<SiloUnavailableException>(() => RevocationStartup.ActivateAuthoritiesAsync(["issuing"], _ =>
        {
            calls++;
            return Task.FromException(new SiloUnavailableException("still unavailable"));
        }, NullLogger.Instance, TimeSpan.FromSeconds(3), CancellationToken.None));

        // Waits of 0.5 s and 1 s fit in 3 s, the next 2 s do not: 3 calls (2 on a machine slow enough to miss the second).
        Assert.InRange(calls, 2, 3);
    }
}
