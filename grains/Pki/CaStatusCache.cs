using System.Collections.Concurrent;
using CmpCluster.Grains.Internal;

namespace CmpCluster.Grains.Pki;

/// <summary>
/// Whether a CA issues, as this silo last heard it from the CA's status grain (grains/Internal/ICaStatusGrain.cs), kept
/// for <see cref="Freshness"/>: an enrollment does not make a call to one grain per CA shared by the whole cluster. A CA
/// disabled through the admin API stops issuing at once on the silo that took the call, and within
/// <see cref="Freshness"/> on the others.
/// </summary>
public sealed class CaStatusCache(IGrainFactory grains, TimeProvider time)
{
    public static readonly TimeSpan Freshness = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, (bool Enabled, DateTimeOffset Until)> _known = new(StringComparer.Ordinal);

    public async ValueTask<bool> IsEnabledAsync(string ca)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (_known.TryGetValue(ca, out var known) && now < known.Until)
        {
            return known.Enabled;
        }
        bool enabled = await grains.GetGrain<ICaStatusGrain>(ca).IsEnabledAsync();
        _known[ca] = (enabled, now + Freshness);
        return enabled;
    }

    /// <summary>The CA's status changed through this silo: the next enrollment asks its grain again.</summary>
    public void Forget(string ca) => _known.TryRemove(ca, out _);
}
