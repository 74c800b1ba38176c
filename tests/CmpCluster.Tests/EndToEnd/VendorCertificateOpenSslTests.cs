using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CmpCluster.Contracts;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// The 3GPP TS 33.310 base-station flow of EJBCA's CMP documentation ("Enrolling Device with Vendor Certificate") with the real OpenSSL
/// client: a vendor root and sub CA made here, a device certificate from them; the device enrolls on an IPSEC alias and a
/// TLS alias with its vendor certificate (end entities named by its CN plus the alias's postfix), receives the operator
/// root in caPubs, then renews both with kur. Untrusted, expired and SHA-1 vendor certificates are refused.
/// </summary>
public sealed class VendorCertificateOpenSslTests
{
    private const string Device = "1234.vendor.example";

    [Fact]
    public async Task A_device_enrolls_two_end_entities_with_its_vendor_certificate_and_renews_both_with_kur()
    {
        using var dir = new TempDirectory("vendor");
        VendorPki vendor = VendorPki.Create(dir, "Vendor");
        vendor.Device(dir, "device", $"CN={Device},O=Vendor");
        await using NodeProcess node = await StartAsync(vendor);
        await using OrleansTestClient client = await node.ConnectClientAsync();
        await RegisterAsync(client, Device + "_IPSEC", "CN=ipsec1234");
        await RegisterAsync(client, Device + "_TLS", "CN=hostname1234");

        foreach ((string alias, string subject, string name) in new[] { ("ipsec", "/CN=ipsec1234", "ipsec"), ("tls", "/CN=hostname1234", "tls") })
        {
            await OpenSsl.GenerateP256KeyAsync(dir.Path, name + ".key");
            OpenSslResult ir = await VendorIrAsync(node, dir, alias, "device", subject, name);
            E2e.Succeeded(ir, node);
            Assert.Equal(E2e.DerOfPem(node.RootCaPath), E2e.DerOfPem(dir.File(name + "-capubs.pem")));
            OpenSslResult verify = await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", node.RootCaPath, "-untrusted", node.IssuingCaPath, name + ".pem");
            E2e.Succeeded(verify, node);

            await OpenSsl.GenerateP256KeyAsync(dir.Path, name + "-new.key");
            OpenSslResult kur = await OpenSsl.RunAsync(dir.Path, "cmp", "-cmd", "kur", "-server", node.Server, "-path", "cmp/" + alias,
                "-cert", name + ".pem", "-key", name + ".key", "-newkey", name + "-new.key", "-certout", name + "-new.pem",
                "-extracerts", node.IssuingCaPath, "-trusted", node.RootCaPath, "-implicit_confirm");
            E2e.Succeeded(kur, node);
            using X509Certificate2 renewed = E2e.LoadCertificate(dir.File(name + "-new.pem"));
            Assert.Equal(subject.TrimStart('/'), renewed.Subject);
        }
        EndEntityView ipsec = (await client.EndEntityAsync(Device + "_IPSEC"))!;
        Assert.Equal((EndEntityStatus.Generated, 2), (ipsec.Status, ipsec.CertificateKeys.Count));

        // The vendor certificate opened the enrollment once: a second initial request is refused.
        await OpenSsl.GenerateP256KeyAsync(dir.Path, "again.key");
        OpenSslResult again = await VendorIrAsync(node, dir, "ipsec", "device", "/CN=ipsec1234", "again");
        E2e.Failed(again, node);
        E2e.OutputContains(again, "notAuthorized", node);
    }

    [Fact]
    public async Task Untrusted_expired_and_SHA1_vendor_certificates_are_refused_with_the_right_failInfo()
    {
        using var dir = new TempDirectory("vendor-bad");
        VendorPki vendor = VendorPki.Create(dir, "Vendor");
        VendorPki stranger = VendorPki.Create(dir, "Stranger");
        stranger.Device(dir, "untrusted", $"CN={Device},O=Vendor");
        vendor.Device(dir, "expired", $"CN={Device},O=Vendor", notAfter: DateTimeOffset.UtcNow.AddDays(-1));
        await vendor.Sha1DeviceAsync(dir, "sha1", $"/CN={Device}/O=Vendor");
        vendor.Device(dir, "revoked", $"CN={Device},O=Vendor");
        string crl = vendor.Revoke(dir, "revoked");
        await using NodeProcess node = await StartAsync(vendor, crl);
        await using OrleansTestClient client = await node.ConnectClientAsync();
        await RegisterAsync(client, Device + "_IPSEC", "CN=ipsec1234");
        await OpenSsl.GenerateP256KeyAsync(dir.Path, "new.key");

        foreach ((string device, string failInfo) in new[] { ("untrusted", "badMessageCheck"), ("expired", "badRequest"), ("sha1", "badAlg"), ("revoked", "badRequest") })
        {
            OpenSslResult refused = await VendorIrAsync(node, dir, "ipsec", device, "/CN=ipsec1234", "new", extracerts: device == "untrusted" ? stranger.SubCaPath : null);
            E2e.Failed(refused, node);
            E2e.OutputContains(refused, failInfo, node);
            if (device == "revoked")
            {
                E2e.OutputContains(refused, "revoked certificate", node);
            }
        }
        EndEntityView view = (await client.EndEntityAsync(Device + "_IPSEC"))!;
        Assert.Equal((EndEntityStatus.New, 0), (view.Status, view.CertificateKeys.Count));
    }

    private static Task<NodeProcess> StartAsync(VendorPki vendor, string? vendorCrl = null) => NodeProcess.StartAsync(
    [
        .. Alias("ipsec", "_IPSEC", vendor.RootPath),
        .. Alias("tls", "_TLS", vendor.RootPath),
        .. vendorCrl is null ? [] : new[] { $"--Cmp:Aliases:ipsec:VendorCrls:0={vendorCrl}" },
    ]);

    private static string[] Alias(string name, string postfix, string vendorRoot) =>
    [
        $"--Cmp:Aliases:{name}:Mode=Client", $"--Cmp:Aliases:{name}:AuthenticationModules:0=EndEntityCertificate",
        $"--Cmp:Aliases:{name}:UserLookup=Cn", $"--Cmp:Aliases:{name}:RaNameGenerationPostfix={postfix}",
        $"--Cmp:Aliases:{name}:VendorCertificateMode=true", $"--Cmp:Aliases:{name}:VendorCas:0={vendorRoot}",
    ];

    private static Task RegisterAsync(OrleansTestClient client, string username, string subject) =>
        client.RegisterAsync(username, subject, enrollmentCode: "unused-by-vendor-mode"); // the admin API requires a code; vendor mode never uses it

    /// <summary>The command of EJBCA's CMP documentation: <c>openssl cmp -cmd ir -cert VendorCert -key VendorKey -extracerts VendorExtraCerts ...</c>.</summary>
    private static Task<OpenSslResult> VendorIrAsync(NodeProcess node, TempDirectory dir, string alias, string device, string subject, string name, string? extracerts = null) =>
        OpenSsl.RunAsync(dir.Path, "cmp", "-cmd", "ir", "-server", node.Server, "-path", "cmp/" + alias,
            "-cert", device + ".pem", "-key", device + ".key", "-extracerts", extracerts ?? "vendor-sub.pem",
            "-newkey", name + ".key", "-subject", subject, "-certout", name + ".pem", "-cacertsout", name + "-capubs.pem",
            "-trusted", node.RootCaPath, "-implicit_confirm");

    /// <summary>A vendor's root and sub CA (EC P-256, SHA-256), made with .NET and written as PEM.</summary>
    private sealed class VendorPki
    {
        private readonly X509Certificate2 _sub;

        private VendorPki(string rootPath, string subCaPath, X509Certificate2 sub)
        {
            RootPath = rootPath;
            SubCaPath = subCaPath;
            _sub = sub;
        }

        public string RootPath { get; }
        public string SubCaPath { get; }

        public static VendorPki Create(TempDirectory dir, string name)
        {
            using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var rootRequest = new CertificateRequest($"CN={name} Root CA,O={name}", rootKey, HashAlgorithmName.SHA256);
            rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            rootRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            using X509Certificate2 root = rootRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddYears(10));
            var subKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var subRequest = new CertificateRequest($"CN={name} Sub CA,O={name}", subKey, HashAlgorithmName.SHA256);
            subRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
            subRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            using X509Certificate2 subPublic = subRequest.Create(root, DateTimeOffset.UtcNow.AddDays(-20), DateTimeOffset.UtcNow.AddYears(5), RandomNumberGenerator.GetBytes(12));
            X509Certificate2 sub = subPublic.CopyWithPrivateKey(subKey);
            string prefix = name.ToLowerInvariant();
            File.WriteAllText(dir.File(prefix + "-root.pem"), root.ExportCertificatePem());
            File.WriteAllText(dir.File(prefix + "-sub.pem"), sub.ExportCertificatePem());
            File.WriteAllText(dir.File(prefix + "-sub.key"), subKey.ExportPkcs8PrivateKeyPem());
            return new VendorPki(dir.File(prefix + "-root.pem"), dir.File(prefix + "-sub.pem"), sub);
        }

        /// <summary>A device certificate signed with ecdsa-with-SHA1 by the sub CA (.NET refuses to make one; openssl does).</summary>
        public async Task Sha1DeviceAsync(TempDirectory dir, string file, string subject)
        {
            await OpenSsl.GenerateP256KeyAsync(dir.Path, file + ".key");
            await File.WriteAllTextAsync(dir.File(file + ".ext"), "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n");
            foreach (string[] step in new[]
            {
                new[] { "req", "-new", "-key", file + ".key", "-subj", subject, "-out", file + ".csr" },
                new[] { "x509", "-req", "-in", file + ".csr", "-CA", SubCaPath, "-CAkey", Path.ChangeExtension(SubCaPath, ".key"),
                    "-set_serial", "0x5A5A01", "-days", "30", "-sha1", "-extfile", file + ".ext", "-out", file + ".pem" },
            })
            {
                OpenSslResult result = await OpenSsl.RunAsync(dir.Path, step);
                Assert.True(result.Succeeded, result.ToString());
            }
        }

        /// <summary>A CRL of the sub CA (made with .NET's CRL builder) listing the device certificate &lt;file&gt;.pem.</summary>
        public string Revoke(TempDirectory dir, string file)
        {
            using X509Certificate2 device = X509Certificate2.CreateFromPem(File.ReadAllText(dir.File(file + ".pem")));
            var builder = new CertificateRevocationListBuilder();
            builder.AddEntry(device, DateTimeOffset.UtcNow.AddHours(-1), X509RevocationReason.KeyCompromise);
            byte[] crl = builder.Build(_sub, BigInteger.One, DateTimeOffset.UtcNow.AddDays(7), HashAlgorithmName.SHA256);
            string path = dir.File("vendor-sub.crl");
            File.WriteAllBytes(path, crl);
            return path;
        }

        /// <summary>A device certificate from the sub CA, as &lt;file&gt;.pem and &lt;file&gt;.key.</summary>
        public void Device(TempDirectory dir, string file, string subject, DateTimeOffset? notAfter = null)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
            DateTimeOffset until = notAfter ?? DateTimeOffset.UtcNow.AddYears(2);
            DateTimeOffset from = notAfter is null ? DateTimeOffset.UtcNow.AddDays(-1) : until.AddDays(-10);
            using X509Certificate2 certificate = request.Create(_sub, from, until, RandomNumberGenerator.GetBytes(12));
            File.WriteAllText(dir.File(file + ".pem"), certificate.ExportCertificatePem());
            File.WriteAllText(dir.File(file + ".key"), key.ExportPkcs8PrivateKeyPem());
            if (file == "device" && !File.Exists(dir.File("vendor-sub.pem")))
            {
                File.Copy(SubCaPath, dir.File("vendor-sub.pem"));
            }
        }
    }
}
