using CmpCluster.Contracts;

namespace CmpCluster.Grains.Internal;

/// <summary>
/// Silo-internal. One CA's revocation publishing (key: <see cref="GrainKeys.CertificateAuthority"/>): the CRL number, a
/// compact list of the unexpired revoked certificates (<see cref="RevokedEntry"/>, handed over by the certificate grains,
/// so a CRL is built without reading them), and the current CRL.
/// </summary>
[Alias("CmpCluster.ICertificateAuthorityGrain")]
public interface ICertificateAuthorityGrain : ICrlGrain
{
    /// <summary>
    /// Called by a certificate grain before it writes a revocation (or a hold release): the serial is remembered
    /// durably first, as not yet settled, so a crash between the two writes can only leave a serial whose certificate the
    /// next CRL reads once, never a revoked certificate missing from it. Idempotent.
    /// </summary>
    /// <remarks>Interleaves: the CA grain may be reading this certificate's grain for a CRL at the same moment.</remarks>
    [Alias("TrackRevocation")]
    [Orleans.Concurrency.AlwaysInterleave]
    Task TrackRevocationAsync(string serialHex);

    /// <summary>
    /// Called after the certificate's revocation state was written, with its CRL entry (null: it is no longer revoked, a
    /// certificateHold was released): the entry settles the serial and a new CRL is issued soon (debounced). Idempotent.
    /// </summary>
    [Alias("RevocationWritten")]
    [Orleans.Concurrency.AlwaysInterleave]
    Task RevocationWrittenAsync(string serialHex, RevokedEntry? entry);

    /// <summary>
    /// What a certificate grain of the previous version calls after its write, without the entry: a new CRL is issued
    /// soon, and it reads that certificate once. Kept for a cluster that runs both versions during an upgrade.
    /// </summary>
    [Alias("RevocationChanged")]
    [Orleans.Concurrency.AlwaysInterleave]
    Task RevocationChangedAsync(string serialHex);

    /// <summary>Issues a new CRL now (admin, tests).</summary>
    [Alias("IssueCrl")]
    Task<CrlInfo> IssueCrlAsync();
}
