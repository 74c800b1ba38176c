using System.Globalization;
using CmpCluster.Contracts;
using CmpCluster.Grains.Pki;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Math;

namespace CmpCluster.Grains.Revocation;

/// <summary>One revokedCertificates entry, as read from its certificate grain.</summary>
public sealed record CrlEntry(string SerialHex, DateTimeOffset RevokedAt, RevocationReason Reason, DateTimeOffset? InvalidityDate);

/// <summary>Builds and signs a v2 CRL (RFC 5280 §5). Pure: everything it needs is passed in.</summary>
public static class CrlBuilder
{
    public static byte[] Build(KeyHolder ca, long number, DateTimeOffset thisUpdate, DateTimeOffset nextUpdate, IEnumerable<CrlEntry> entries)
    {
        var generator = new V2TbsCertListGenerator();
        // §5.1.2.2 / §5.1.1.2: the same algorithm inside the TBS as on the outside; the CA key decides it.
        generator.SetSignature(ca.Signer.Algorithm);
        // §5.1.2.3: the issuer is the CA's subject, encoded exactly as in its certificate.
        generator.SetIssuer(ca.Certificate.Subject);
        generator.SetThisUpdate(RfcTime(thisUpdate));
        // §5.1.2.5: conforming CAs MUST include nextUpdate.
        generator.SetNextUpdate(RfcTime(nextUpdate));
        // Sorted by serial so two CRLs with the same content list it in the same order.
        foreach (CrlEntry entry in entries.OrderBy(e => e.SerialHex.Length).ThenBy(e => e.SerialHex, StringComparer.Ordinal))
        {
            generator.AddCrlEntry(Entry(entry));
        }

        var extensions = new X509ExtensionsGenerator();
        if (ca.SubjectKeyIdentifier is { } keyId)
        {
            // §5.2.1: authorityKeyIdentifier MUST be included, keyIdentifier = the CA's subjectKeyIdentifier.
            extensions.AddExtension(X509Extensions.AuthorityKeyIdentifier, false, new AuthorityKeyIdentifier(keyId));
        }
        // §5.2.3: cRLNumber, non-critical, monotonically increasing.
        extensions.AddExtension(X509Extensions.CrlNumber, false, new CrlNumber(BigInteger.ValueOf(number)));
        generator.SetExtensions(extensions.Generate());

        TbsCertificateList tbs = generator.GenerateTbsCertList();
        byte[] signature = ca.Sign(tbs.GetEncoded(Asn1Encodable.Der), "crl");
        return new DerSequence(tbs, ca.Signer.Algorithm, new DerBitString(signature)).GetEncoded(Asn1Encodable.Der);
    }

    private static DerSequence Entry(CrlEntry entry)
    {
        var extensions = new X509ExtensionsGenerator();
        // §5.3.1: reasonCode is omitted rather than given the value unspecified.
        if (entry.Reason != RevocationReason.Unspecified)
        {
            extensions.AddExtension(X509Extensions.ReasonCode, false, new CrlReason((int)entry.Reason));
        }
        if (entry.InvalidityDate is { } invalidity)
        {
            // §5.3.2: invalidityDate is a GeneralizedTime (without fractional seconds, §4.1.2.5.2).
            extensions.AddExtension(X509Extensions.InvalidityDate, false, GeneralizedTime(invalidity));
        }
        var serial = new DerInteger(new BigInteger(entry.SerialHex, 16));
        return extensions.IsEmpty
            ? new DerSequence(serial, RfcTime(entry.RevokedAt))
            : new DerSequence(serial, RfcTime(entry.RevokedAt), extensions.Generate());
    }

    /// <summary>§5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, UTC.</summary>
    private static Time RfcTime(DateTimeOffset value) => new(WholeSeconds(value));

    public static DerGeneralizedTime GeneralizedTime(DateTimeOffset value) =>
        new(WholeSeconds(value).ToString("yyyyMMddHHmmss'Z'", CultureInfo.InvariantCulture));

    public static DateTime WholeSeconds(DateTimeOffset value)
    {
        DateTime utc = value.UtcDateTime;
        return new DateTime(utc.Ticks - utc.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
    }
}
