using CmpCluster.Contracts;

namespace CmpCluster.Grains.Internal;

/// <summary>
/// Silo-internal. One certificate (key: <see cref="GrainKeys.Certificate"/>): intent → issued → confirmed | revoked.
/// Single activation plus the storage ETag make "a serial is never reused" hold across the cluster.
/// </summary>
[Alias("CmpCluster.ICertificateGrain")]
public interface ICertificateGrain : IGrainWithStringKey
{
    /// <summary>Records the intent to issue under this serial; false when the serial already has a record.</summary>
    [Alias("Reserve")]
    Task<bool> ReserveAsync(CertificateIntent intent);

    /// <summary>
    /// Signs <paramref name="tbsCertificateDer"/> with the CA key and stores the certificate, in one step, only when it is
    /// exactly the issuance this grain reserved: status Reserved, serial = this grain's serial, issuer = the intent's CA,
    /// subject and public key = the recorded intent, signature algorithm = the CA key's. Anything else is refused and nothing
    /// is signed. The certificate then awaits confirmation (or is confirmed at once). Returns the DER certificate.
    /// </summary>
    [Alias("Issue")]
    Task<byte[]> IssueAsync(byte[] tbsCertificateDer, bool confirmed);

    [Alias("Confirm")]
    Task<CertificateStatus> ConfirmAsync();

    /// <summary>
    /// Revokes an issued certificate exactly once (time, reason and cause recorded and audited), or takes a
    /// certificateHold off with <see cref="RevocationReason.RemoveFromCrl"/>. The CA's CRL follows.
    /// </summary>
    [Alias("Revoke")]
    Task<RevocationResult> RevokeAsync(RevocationRequest request);

    [Alias("Get")]
    Task<CertificateRecord?> GetAsync();
}

/// <summary>What a revocation asks for. <see cref="Cause"/> is for the audit log (never client text).</summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.RevocationRequest")]
public sealed record RevocationRequest(
    [property: Id(0)] RevocationReason Reason,
    [property: Id(1)] string Cause,
    [property: Id(2)] DateTimeOffset? InvalidityDate = null);

public enum RevocationResult
{
    /// <summary>Revoked now.</summary>
    Revoked = 0,
    /// <summary>It was revoked before (seed: certRevoked); nothing changed.</summary>
    AlreadyRevoked = 1,
    /// <summary>No issued certificate has this serial (unknown, or reserved and never signed): badCertId.</summary>
    NotIssued = 2,
    /// <summary>removeFromCRL took a certificateHold off: the certificate is valid again.</summary>
    Released = 3,
    /// <summary>removeFromCRL for a certificate that is not on hold.</summary>
    NotOnHold = 4,
}
