using CmpCluster.Contracts;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Internal;

/// <summary>
/// What the CA keeps per revoked certificate: exactly what its CRL entry needs (RFC 5280 §5.1.2.6 revocationDate,
/// §5.3.1 reasonCode, §5.3.2 invalidityDate; the serial is the key it is stored under) and the certificate's notAfter,
/// which decides when the entry may leave the CRL (§3.3). The certificate grain hands it to its CA when it revokes.
/// </summary>
/// <remarks>
/// Times are whole seconds since the Unix epoch, UTC: a CRL carries whole seconds only (§5.1.2.4, §4.1.2.5.2), and a
/// varint of seconds is a fraction of a serialized DateTimeOffset, which counts at hundreds of thousands of entries.
/// </remarks>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.RevokedEntry")]
public readonly record struct RevokedEntry(
    [property: Id(0)] long RevokedAt,
    [property: Id(1)] RevocationReason Reason,
    [property: Id(2)] long? InvalidityDate,
    [property: Id(3)] long NotAfter,
    /// <summary>Set once the entry was on a CRL issued after notAfter: the next CRL leaves it out (RFC 5280 §3.3).</summary>
    [property: Id(4)] bool ListedAfterExpiry = false)
{
    public static RevokedEntry Create(DateTimeOffset revokedAt, RevocationReason reason, DateTimeOffset? invalidityDate, DateTimeOffset notAfter) =>
        new(revokedAt.ToUnixTimeSeconds(), reason, invalidityDate?.ToUnixTimeSeconds(), notAfter.ToUnixTimeSeconds());

    /// <summary>The entry for a certificate record, or null when the record is not revoked (never issued, live, released).</summary>
    public static RevokedEntry? From(CertificateRecord? record) =>
        record is { Status: CertificateStatus.Revoked, RevokedAt: { } revokedAt, Der: { } der }
            ? Create(revokedAt, record.RevocationReason ?? RevocationReason.Unspecified, record.InvalidityDate, NotAfterOf(der))
            : null;

    /// <summary>The certificate's notAfter (RFC 5280 §4.1.2.5), read from its DER.</summary>
    public static DateTimeOffset NotAfterOf(byte[] certificateDer)
    {
        DateTime end = X509CertificateStructure.GetInstance(Asn1Object.FromByteArray(certificateDer)).EndDate.ToDateTime();
        return new DateTimeOffset(end.Kind == DateTimeKind.Local ? end.ToUniversalTime() : DateTime.SpecifyKind(end, DateTimeKind.Utc));
    }

    public DateTimeOffset RevokedAtTime => DateTimeOffset.FromUnixTimeSeconds(RevokedAt);

    public DateTimeOffset? InvalidityDateTime => InvalidityDate is { } seconds ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;

    public DateTimeOffset NotAfterTime => DateTimeOffset.FromUnixTimeSeconds(NotAfter);

    /// <summary>
    /// The certificate was expired when a CRL with this thisUpdate was issued: its validity period (notAfter inclusive,
    /// RFC 5280 §4.1.2.5) ended before thisUpdate.
    /// </summary>
    public bool ExpiredAt(DateTimeOffset thisUpdate) => NotAfter < thisUpdate.ToUnixTimeSeconds();
}
