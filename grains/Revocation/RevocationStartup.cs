using CmpCluster.Contracts;
using CmpCluster.Grains.Pki;
using Microsoft.Extensions.DependencyInjection;

namespace CmpCluster.Grains.Revocation;

public static class RevocationStartup
{
    /// <summary>
    /// At every silo start, activates each CA of the key ring, which registers its durable CRL reminder, so CRLs are
    /// renewed before nextUpdate even if nobody revokes or asks (RFC 5280 §5.1.2.5); the first CRL is issued now if there
    /// is none. Startup code is not a grain, so it uses the read-only gateway-facing interface. Idempotent; every silo may do it.
    /// </summary>
    public static ISiloBuilder AddRevocationPublishing(this ISiloBuilder silo) => silo.AddStartupTask(async (services, cancel) =>
    {
        IGrainFactory grains = services.GetRequiredService<IGrainFactory>();
        foreach (CertificateAuthorityKeys ca in services.GetRequiredService<PkiKeyRing>().Authorities)
        {
            cancel.ThrowIfCancellationRequested();
            await grains.GetGrain<ICrlGrain>(GrainKeys.CertificateAuthority(ca.Name)).GetCrlAsync();
        }
    });
}
