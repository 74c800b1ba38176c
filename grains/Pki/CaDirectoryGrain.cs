using CmpCluster.Contracts;
using Orleans.Concurrency;
using Org.BouncyCastle.Asn1;

namespace CmpCluster.Grains.Pki;

/// <summary>Public facts about the CAs in this silo's key ring, for the admin API; keys never leave the ring.</summary>
[StatelessWorker]
public sealed class CaDirectoryGrain(PkiKeyRing keys, CaStatusCache status) : Grain, ICaDirectoryGrain
{
    public async Task<IReadOnlyList<CaInfo>> ListAsync()
    {
        keys.Recorded?.Refresh(keys); // a CA made through the admin API on another silo is listed at once
        return await Task.WhenAll(keys.Authorities.Select(async a => new CaInfo(
            a.Name,
            a.Ca.Certificate.Subject.ToString(),
            a.Ca.CertificateDer,
            a.CaChain.Select(c => c.GetEncoded(Asn1Encodable.Der)).ToArray(),
            new DateTimeOffset(DateTime.SpecifyKind(a.Ca.Certificate.EndDate.ToDateTime(), DateTimeKind.Utc)),
            // Through the silo's cache: every CRL download lists the CAs.
            await status.IsEnabledAsync(a.Name),
            keys.Recorded?.OriginOf(a.Name) ?? CaInfo.Settings,
            a.KeyGeneration,
            a.Retired.Select(r => new RetiredCaKeyInfo(r.Generation, r.Ca.CertificateDer,
                new DateTimeOffset(DateTime.SpecifyKind(r.Ca.Certificate.EndDate.ToDateTime(), DateTimeKind.Utc)))).ToArray())));
    }
}
