using CmpCluster.Contracts;

namespace CmpCluster.Grains.Internal;

/// <summary>
/// Silo-internal. One CA's revocation publishing (key: <see cref="GrainKeys.CertificateAuthority"/>): the CRL number, the set of
/// certificates that were ever revoked (keys only: each entry is read from its certificate grain when a CRL is built,
/// so the CRL cannot drift from the certificates' own state), and the current CRL.
/// </summary>
[Alias("CmpCluster.ICertificateAuthorityGrain")]
public interface ICertificateAuthorityGrain : ICrlGrain
{
    /// <summary>
    /// Called by a certificate grain before it writes a revocation (or a hold release): the serial is remembered
    /// durably first, so a crash between the two writes can only leave an extra entry to read, never a missing one.
    /// </summary>
    /// <remarks>Interleaves: the CA grain may be reading this certificate's grain for a CRL at the same moment.</remarks>
    [Alias("TrackRevocation")]
    [Orleans.Concurrency.AlwaysInterleave]
    Task TrackRevocationAsync(string serialHex);

    /// <summary>Called after the certificate's revocation state was written: a new CRL is issued soon (debounced).</summary>
    [Alias("RevocationChanged")]
    [Orleans.Concurrency.AlwaysInterleave]
    Task RevocationChangedAsync(string serialHex);

    /// <summary>Issues a new CRL now (admin, tests).</summary>
    [Alias("IssueCrl")]
    Task<CrlInfo> IssueCrlAsync();

}
