namespace CmpCluster.Grains.Internal;

/// <summary>
/// Silo-internal. Whether one CA (key: its name) issues new certificates. A CA is enabled until an operator disables it
/// through the admin API; the choice is stored and holds for every silo of the cluster and across restarts. A disabled CA
/// still publishes CRLs, answers OCSP and takes revocations, so certificates it issued before stay checkable.
/// </summary>
[Alias("CmpCluster.ICaStatusGrain")]
public interface ICaStatusGrain : IGrainWithStringKey
{
    [Alias("IsEnabled")]
    [Orleans.Concurrency.ReadOnly]
    Task<bool> IsEnabledAsync();

    /// <summary>Enables or disables the CA (idempotent); <paramref name="actor"/> is who asked, kept with the state.</summary>
    [Alias("SetEnabled")]
    Task SetEnabledAsync(bool enabled, string actor);
}
