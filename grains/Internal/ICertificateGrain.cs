using CmpCluster.Contracts;

namespace CmpCluster.Grains.Internal;

/// <summary>
/// Silo-internal. One certificate (key: <see cref="GrainKeys.Certificate"/>): issued (awaiting confirmation) → confirmed | revoked.
/// Single activation plus the storage ETag make "a serial is never reused" hold across the cluster.
/// </summary>
[Alias("CmpCluster.ICertificateGrain")]
public interface ICertificateGrain : IGrainWithStringKey
{
    /// <summary>
    /// Signs <paramref name="tbsCertificateDer"/> with the CA key and stores the certificate, in one step and one write,
    /// only when this serial has no record yet and the TBSCertificate is exactly <paramref name="intent"/>: serial = this
    /// grain's, issuer = the intent's CA, subject and public key = the intent's, signature algorithm = the CA key's.
    /// Anything else is refused and nothing is signed. The certificate then awaits confirmation (or is confirmed at once).
    /// Returns the DER certificate; for a serial that already has a record, the stored certificate when it is the same
    /// transaction's issuance of the same subject and key (a retry), else null: the serial is taken, nothing was signed.
    /// </summary>
    [Alias("Issue")]
    Task<byte[]?> IssueAsync(CertificateIntent intent, byte[] tbsCertificateDer, bool confirmed);

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

    /// <summary>The deadline sweeper's call: revokes the certificate if it still awaits confirmation past its own deadline.</summary>
    [Alias("ExpireIfDue")]
    Task ExpireIfDueAsync();
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
    /// <summary>It was revoked before (EJBCA's CMP error table: certRevoked); nothing changed.</summary>
    AlreadyRevoked = 1,
    /// <summary>No issued certificate has this serial (unknown, or reserved and never signed): badCertId.</summary>
    NotIssued = 2,
    /// <summary>removeFromCRL took a certificateHold off: the certificate is valid again.</summary>
    Released = 3,
    /// <summary>removeFromCRL for a certificate that is not on hold.</summary>
    NotOnHold = 4,
}
