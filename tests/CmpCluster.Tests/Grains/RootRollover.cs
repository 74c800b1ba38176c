using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CmpCluster.Grains.Pki;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// A root rollover for the genm tests: a new self-signed root and two certificates standing in for the cross
/// certificates, written as PEM files once per test run. The server only relays them, so their keys do not matter.
/// </summary>
internal static class RootRollover
{
    private static readonly Lazy<(RootCaUpdateOptions Files, byte[] NewWithNew, byte[] NewWithOld, byte[] OldWithNew)> Made = new(() =>
    {
        string folder = Path.Combine(Path.GetTempPath(), "cmp-root-rollover-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        byte[] Write(string name, string subject)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(20));
            File.WriteAllText(Path.Combine(folder, name), certificate.ExportCertificatePem());
            return certificate.RawData;
        }
        byte[] newWithNew = Write("new-with-new.pem", "CN=CmpCluster Root CA G2,O=CmpCluster");
        byte[] newWithOld = Write("new-with-old.pem", "CN=CmpCluster Root CA G2 (by G1),O=CmpCluster");
        byte[] oldWithNew = Write("old-with-new.pem", "CN=CmpCluster Root CA (by G2),O=CmpCluster");
        var files = new RootCaUpdateOptions
        {
            NewWithNew = Path.Combine(folder, "new-with-new.pem"),
            NewWithOld = Path.Combine(folder, "new-with-old.pem"),
            OldWithNew = Path.Combine(folder, "old-with-new.pem"),
        };
        return (files, newWithNew, newWithOld, oldWithNew);
    });

    public static RootCaUpdateOptions Files => Made.Value.Files;
    public static byte[] NewWithNew => Made.Value.NewWithNew;
    public static byte[] NewWithOld => Made.Value.NewWithOld;
    public static byte[] OldWithNew => Made.Value.OldWithNew;
}

/// <summary>An RA of another PKI for the nested-message tests: its CA (written as PEM, the alias's RA trust anchor) and
/// an RA certificate with its key; plus a second, untrusted RA made the same way.</summary>
internal static class ForeignRa
{
    private static readonly Lazy<(string AnchorPath, ECDsa Key, byte[] Certificate, ECDsa StrangerKey, byte[] Stranger)> Made = new(() =>
    {
        string folder = Path.Combine(Path.GetTempPath(), "cmp-foreign-ra-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        (X509Certificate2 Root, ECDsa Key, byte[] Ra) Pki(string name)
        {
            var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var rootRequest = new CertificateRequest($"CN={name} RA CA,O={name}", rootKey, HashAlgorithmName.SHA256);
            rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            rootRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
            X509Certificate2 root = rootRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(5));
            var raKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var raRequest = new CertificateRequest($"CN={name} RA,O={name}", raKey, HashAlgorithmName.SHA256);
            raRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
            using X509Certificate2 ra = raRequest.Create(root, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1), RandomNumberGenerator.GetBytes(10));
            return (root, raKey, ra.RawData);
        }
        (X509Certificate2 root, ECDsa key, byte[] certificate) = Pki("Partner");
        (_, ECDsa strangerKey, byte[] stranger) = Pki("Stranger");
        string anchor = Path.Combine(folder, "partner-ra-ca.pem");
        File.WriteAllText(anchor, root.ExportCertificatePem());
        return (anchor, key, certificate, strangerKey, stranger);
    });

    public static string AnchorPath => Made.Value.AnchorPath;
    public static ECDsa Key => Made.Value.Key;
    public static byte[] Certificate => Made.Value.Certificate;
    public static ECDsa StrangerKey => Made.Value.StrangerKey;
    public static byte[] Stranger => Made.Value.Stranger;
}
