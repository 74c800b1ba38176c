using System.Collections.Concurrent;
using CmpCluster.Protocol.Configuration;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Pki;

/// <summary>
/// The certificates an alias adds to its responses: caPubs of ip/cp/kup and extraCerts of every response (EJBCA's CMP
/// documentation, "CMP Response Additional CA Certificates" and "PKI Message Response Additional CA Certificates"). Files are
/// read once per list and kept; the start-up validator reads them first (<see cref="Load"/>), so a bad file stops the node.
/// </summary>
public sealed class AliasCertificates(RootCaUpdates rootUpdates)
{
    private readonly ConcurrentDictionary<string, X509CertificateStructure[]> _files = new(StringComparer.Ordinal);

    /// <summary>
    /// caPubs for <paramref name="ca"/>: the signing CA first where the alias says so, the root where it says so, during a
    /// root rollover the new root where it says so (RFC 4210 §4.4: clients that install caPubs then trust both), then the
    /// additional certificates, each once.
    /// </summary>
    public X509CertificateStructure[] CaPubs(CmpAliasOptions alias, CertificateAuthorityKeys ca)
    {
        var pubs = new List<X509CertificateStructure>();
        if (alias.CaPubsSigningCaFirst)
        {
            pubs.Add(ca.Ca.Certificate);
        }
        if (alias.IncludeRootInCaPubs)
        {
            pubs.Add(ca.Root);
        }
        if (alias.IncludeNewRootInCaPubs && rootUpdates.For(ca.Name) is { } update)
        {
            pubs.Add(update.NewWithNew);
        }
        pubs.AddRange(Files(alias.AdditionalCaPubs));
        return [.. pubs.Distinct()];
    }

    /// <summary>extraCerts: the chain of whatever protects the response, then the alias's additional certificates.</summary>
    public X509CertificateStructure[] ExtraCerts(CmpAliasOptions? alias, X509CertificateStructure[] protectionChain) =>
        alias?.AdditionalExtraCerts is { Length: > 0 } files ? [.. protectionChain.Concat(Files(files)).Distinct()] : protectionChain;

    private IEnumerable<X509CertificateStructure> Files(string[]? files) =>
        (files ?? []).SelectMany(file => _files.GetOrAdd(file, Load));

    /// <summary>
    /// The certificates of a PEM file; throws <see cref="InvalidDataException"/> naming the file when it holds none, or one
    /// that is not X.509 v3 (RFC 9810 §5.1 CMPCertificate; BouncyCastle clients refuse v1 certificates in extraCerts).
    /// </summary>
    public static X509CertificateStructure[] Load(string file)
    {
        string text = File.ReadAllText(file);
        var certificates = new List<X509CertificateStructure>();
        foreach (System.Text.RegularExpressions.Match block in System.Text.RegularExpressions.Regex.Matches(
            text, "-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", System.Text.RegularExpressions.RegexOptions.Singleline))
        {
            X509CertificateStructure certificate;
            try
            {
                certificate = X509CertificateStructure.GetInstance(Asn1Object.FromByteArray(Convert.FromBase64String(block.Groups[1].Value)));
            }
            catch (Exception e) when (e is FormatException or ArgumentException or IOException or InvalidCastException)
            {
                throw new InvalidDataException($"'{file}' holds a certificate that cannot be read");
            }
            if (certificate.Version != 3)
            {
                throw new InvalidDataException($"'{file}' holds an X.509 v{certificate.Version} certificate; only v3 is accepted");
            }
            certificates.Add(certificate);
        }
        return certificates.Count > 0 ? [.. certificates] : throw new InvalidDataException($"'{file}' holds no PEM certificate");
    }
}
