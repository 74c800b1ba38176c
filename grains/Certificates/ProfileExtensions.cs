using System.Security.Cryptography;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Certificates;

/// <summary>Extensions of an end-entity certificate from its profile (RFC 5280 §4.2).</summary>
public static class ProfileExtensions
{
    private static readonly Dictionary<string, int> KeyUsageBits = new(StringComparer.OrdinalIgnoreCase)
    {
        ["digitalSignature"] = KeyUsage.DigitalSignature,
        ["nonRepudiation"] = KeyUsage.NonRepudiation,
        ["contentCommitment"] = KeyUsage.NonRepudiation,
        ["keyEncipherment"] = KeyUsage.KeyEncipherment,
        ["dataEncipherment"] = KeyUsage.DataEncipherment,
        ["keyAgreement"] = KeyUsage.KeyAgreement,
    };

    private static readonly Dictionary<string, DerObjectIdentifier> ExtendedKeyUsageOids = new(StringComparer.OrdinalIgnoreCase)
    {
        ["serverAuth"] = KeyPurposeID.id_kp_serverAuth,
        ["clientAuth"] = KeyPurposeID.id_kp_clientAuth,
        ["codeSigning"] = KeyPurposeID.id_kp_codeSigning,
        ["emailProtection"] = KeyPurposeID.id_kp_emailProtection,
        ["timeStamping"] = KeyPurposeID.id_kp_timeStamping,
        ["ocspSigning"] = KeyPurposeID.id_kp_OCSPSigning,
    };

    /// <summary>The KeyUsage bit of a name the start-up check accepted.</summary>
    public static int KeyUsageBit(string name) => KeyUsageBits[name];

    /// <summary>The key purpose of a name or dotted OID the start-up check accepted.</summary>
    public static DerObjectIdentifier ExtendedKeyUsageOid(string name) =>
        ExtendedKeyUsageOids.TryGetValue(name, out DerObjectIdentifier? oid) ? oid : new DerObjectIdentifier(name);

    /// <summary>Checks names in a profile at start-up; returns the first unknown one.</summary>
    public static string? FindUnknownName(IEnumerable<string> keyUsages, IEnumerable<string> extendedKeyUsages) =>
        keyUsages.FirstOrDefault(k => !KeyUsageBits.ContainsKey(k))
        ?? extendedKeyUsages.FirstOrDefault(e => !ExtendedKeyUsageOids.ContainsKey(e) && !IsDottedOid(e));

    /// <param name="pki">Where relying parties reach the CRL and OCSP endpoints (Pki:PublicBaseUrl).</param>
    public static X509Extensions Build(IssuanceRequest request, X509CertificateStructure ca, Pki.PkiOptions pki)
    {
        var generator = new X509ExtensionsGenerator();
        // §4.2.1.9: an end entity is not a CA.
        generator.AddExtension(X509Extensions.BasicConstraints, true, new BasicConstraints(false));
        int usage = request.RequestedKeyUsage ?? request.Profile.KeyUsages.Aggregate(0, (bits, name) => bits | KeyUsageBit(name));
        if (usage != 0)
        {
            generator.AddExtension(X509Extensions.KeyUsage, true, new KeyUsage(usage)); // §4.2.1.3: SHOULD be critical
        }
        if (request.RequestedExtendedKeyUsages is { Count: > 0 } || request.Profile.ExtendedKeyUsages.Count > 0)
        {
            DerObjectIdentifier[] purposes = request.RequestedExtendedKeyUsages is { Count: > 0 } requested
                ? [.. requested]
                : request.Profile.ExtendedKeyUsages.Select(ExtendedKeyUsageOid).ToArray();
            generator.AddExtension(X509Extensions.ExtendedKeyUsage, false, new ExtendedKeyUsage(purposes));
        }
        // §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING.
        byte[] keyId = SHA1.HashData(request.PublicKey.PublicKey.GetBytes());
        generator.AddExtension(X509Extensions.SubjectKeyIdentifier, false, new SubjectKeyIdentifier(keyId));
        byte[]? caKeyId = ca.TbsCertificate.Extensions?.GetExtension(X509Extensions.SubjectKeyIdentifier) is { } caSki
            ? SubjectKeyIdentifier.GetInstance(caSki.GetParsedValue()).GetKeyIdentifier()
            : null;
        if (caKeyId is not null)
        {
            generator.AddExtension(X509Extensions.AuthorityKeyIdentifier, false, new AuthorityKeyIdentifier(caKeyId));
        }
        if (request.SubjectAltName is not null)
        {
            // §4.2.1.6: critical exactly when the subject is empty.
            generator.AddExtension(X509Extensions.SubjectAlternativeName, request.Subject.GetOidList().Count == 0,
                GeneralNames.GetInstance(request.SubjectAltName.GetParsedValue()));
        }
        if (request.Profile.IncludeCrlDistributionPoint)
        {
            // §4.2.1.13: one distribution point, a full name URI; reasons and cRLIssuer absent (the CA key that signs the
            // certificate signs one full CRL, whose URL names the key's generation).
            string crl = pki.CrlUrl(request.Ca.Name, request.Ca.KeyGeneration);
            var point = new DistributionPoint(new DistributionPointName(new GeneralNames(UriName(crl))), null, null);
            generator.AddExtension(X509Extensions.CrlDistributionPoints, false, new CrlDistPoint([point]));
        }
        if (request.Profile.IncludeOcspUrl)
        {
            // §4.2.2.1: authorityInfoAccess, non-critical, id-ad-ocsp with the responder's URI (RFC 6960 Appendix A.1).
            var ocsp = new AccessDescription(AccessDescription.IdADOcsp, UriName($"{pki.BaseUrl}/ocsp"));
            generator.AddExtension(X509Extensions.AuthorityInfoAccess, false, new AuthorityInformationAccess(ocsp));
        }
        return generator.Generate();
    }

    private static GeneralName UriName(string uri) => new(GeneralName.UniformResourceIdentifier, uri);

    private static bool IsDottedOid(string value)
    {
        try
        {
            _ = new DerObjectIdentifier(value);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
