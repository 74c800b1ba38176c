namespace CmpCluster.Contracts;

/// <summary>Life of one certificate record (grains/Certificates/CertificateIssuer.cs). Frozen: values are stored.</summary>
public enum CertificateStatus
{
    /// <summary>No record: the serial was never reserved.</summary>
    Unknown = 0,
    /// <summary>Serial reserved, intent recorded, not signed: written only by versions before 2026-12, which recorded the intent
    /// in a write of its own. Treated as never issued.</summary>
    Reserved = 1,
    /// <summary>Signed and answered; the client has not confirmed it yet.</summary>
    AwaitingConfirmation = 2,
    Confirmed = 3,
    Revoked = 4,
}

/// <summary>CRLReason, RFC 5280 §5.3.1. Frozen: the numbers are the wire values.</summary>
public enum RevocationReason
{
    Unspecified = 0,
    KeyCompromise = 1,
    CaCompromise = 2,
    AffiliationChanged = 3,
    Superseded = 4,
    CessationOfOperation = 5,
    CertificateHold = 6,
    RemoveFromCrl = 8,
    PrivilegeWithdrawn = 9,
    AaCompromise = 10,
}
