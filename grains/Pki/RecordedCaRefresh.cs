using Microsoft.Extensions.Hosting;

namespace CmpCluster.Grains.Pki;

/// <summary>
/// Adds the CAs made through the admin API on other silos to this silo's key ring every <see cref="RecordedCas.RefreshPeriod"/>
/// (grains/Pki/RecordedCas.cs), so the CA list, the CA expiry metric and the OCSP index have them before anyone asks. A
/// lookup by name or issuer that misses does the same at once.
/// </summary>
public sealed class RecordedCaRefresh(PkiKeyRing keys, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (keys.Recorded is not { } recorded)
        {
            return;
        }
        using var timer = new PeriodicTimer(RecordedCas.RefreshPeriod, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            recorded.Refresh(keys);
        }
    }
}
