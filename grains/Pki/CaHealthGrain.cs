using CmpCluster.Contracts;
using Orleans.Concurrency;

namespace CmpCluster.Grains.Pki;

/// <summary>
/// Asks a CA's keys whether they can sign: a key on a PKCS#11 token is asked through its token, and a token that failed
/// is looked for again here, so health comes back with the token before any issuance tries it
/// (grains/Pki/Pkcs11Token.cs). Why a key cannot sign stays in the silo's log.
/// </summary>
[StatelessWorker]
public sealed class CaHealthGrain(PkiKeyRing keys) : Grain, ICaHealthGrain
{
    public Task<CaHealth> CheckAsync(string ca) => Task.FromResult(keys.FindAuthority(ca) is { } authority
        ? new CaHealth(true, authority.Probe() is null)
        : new CaHealth(false, false));
}
