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
