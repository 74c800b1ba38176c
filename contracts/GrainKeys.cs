namespace CmpCluster.Contracts;

/// <summary>Every grain key is built here, so gateway and silo agree on them.</summary>
public static class GrainKeys
{
    /// <summary>ICmpTransactionGrain: one per (alias, transactionID).</summary>
    public static string Transaction(string alias, ReadOnlySpan<byte> transactionId) =>
        $"{alias}/{Convert.ToHexString(transactionId)}";

    /// <summary>ICertificateGrain: one per (CA, serial number as upper-case hex of its positive value).</summary>
    public static string Certificate(string ca, string serialHex) => $"{ca}/{serialHex}";

    /// <summary>ICertificateAuthorityGrain: one per CA name (CRL number, revoked serials, current CRL).</summary>
    public static string CertificateAuthority(string ca) => ca;

    /// <summary>IApprovalQueueGrain: the one list of requests waiting for approval.</summary>
    public const string Approvals = "approvals";

    /// <summary>IAdminGrain and ICaDirectoryGrain: stateless workers, so one key serves every silo.</summary>
    public const string Admin = "admin";

    /// <summary>IOcspResponderGrain: a stateless worker, so one key serves every silo.</summary>
    public const string OcspResponder = "responder";

    /// <summary>IEndEntityGrain: one per username (case-sensitive, as registered).</summary>
    public static string EndEntity(string username) => username;

    /// <summary>IEndEntityIndexGrain: the subject DN in a canonical form (see CmpCluster.Grains' DnCanonical), hashed.</summary>
    public static string SubjectIndex(string canonicalDn) =>
        "dn/" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(canonicalDn)));
}
