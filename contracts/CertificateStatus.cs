namespace CmpCluster.Contracts;

/// <summary>Life of one certificate record (DESIGN.md §4). Frozen: values are stored.</summary>
public enum CertificateStatus
{
    /// <summary>No record: the serial was never reserved.</summary>
    Unknown = 0,
    /// <summary>Serial reserved, intent recorded, not signed yet (or signing never finished).</summary>
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
