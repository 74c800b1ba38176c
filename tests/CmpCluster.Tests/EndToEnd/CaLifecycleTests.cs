using System.Security.Cryptography;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol.Client;
using CmpCluster.Silo;
using Microsoft.Extensions.Logging.Abstractions;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// The CA's lifecycle made by the CA itself (`pki rollover-root`, `pki renew-ca`, silo/PkiCommand.cs): a root rollover
/// (RFC 4210 §4.4) whose link certificates the system <c>openssl verify</c> accepts, served to a client through genm
/// rootCaKeyUpdate (RFC 9483 §4.3.2) and caPubs; a renewed issuing-CA certificate under which earlier certificates still verify.
/// </summary>
public sealed class CaLifecycleTests
{
    /// <summary>A data directory with a development PKI, as a node's first start makes it.</summary>
    private static string NewDataDirectory(TempDirectory dir)
    {
        string data = dir.File("data");
        DevelopmentPki.LoadOrCreate(new PkiOptions(), data, NullLogger.Instance);
        return data;
    }

    private static string Pki(string data, string file) => Path.Combine(data, DevelopmentPki.FolderName, file);

    private static async Task<OpenSslResult> VerifyAsync(TempDirectory dir, string trusted, string certificate, string? untrusted = null) =>
        await OpenSsl.RunAsync(dir.Path, ["verify", "-CAfile", trusted, .. untrusted is null ? Array.Empty<string>() : ["-untrusted", untrusted], certificate]);

    [Fact]
    public async Task A_root_rollover_made_by_the_CA_has_link_certificates_that_verify_and_is_served_by_genm_and_caPubs()
    {
        using var dir = new TempDirectory("rollover");
        string data = NewDataDirectory(dir);
        var output = new StringWriter();

        Assert.True(PkiCommand.Run(["pki", "rollover-root", "--data", data], output) == 0, output.ToString());

        string oldRoot = Pki(data, "root-ca.pem"), newRoot = Pki(data, "root-ca-next.pem");
        string newWithOld = Pki(data, "root-new-with-old.pem"), oldWithNew = Pki(data, "root-old-with-new.pem");
        // newWithOld: the new key, certified by the old root; oldWithNew: the old key, certified by the new root.
        Assert.True((await VerifyAsync(dir, oldRoot, newWithOld)).Succeeded);
        Assert.True((await VerifyAsync(dir, newRoot, oldWithNew)).Succeeded);
        Assert.False((await VerifyAsync(dir, newRoot, newWithOld)).Succeeded);
        // A relying party that already trusts only the new root reaches the current issuing CA through oldWithNew.
        Assert.True((await VerifyAsync(dir, newRoot, Pki(data, "issuing-ca.pem"), untrusted: oldWithNew)).Succeeded);
        Assert.False((await VerifyAsync(dir, newRoot, Pki(data, "issuing-ca.pem"))).Succeeded);
        // One rollover at a time.
        Assert.Equal(1, PkiCommand.Run(["pki", "rollover-root", "--data", data], new StringWriter()));

        await using NodeProcess node = await NodeProcess.StartAsync([
            $"--Pki:RootCaUpdate:NewWithNew={newRoot}", $"--Pki:RootCaUpdate:NewWithOld={newWithOld}", $"--Pki:RootCaUpdate:OldWithNew={oldWithNew}",
            "--Cmp:Aliases:ra:IncludeNewRootInCaPubs=true"], dataDirectory: data);
        using var http = new HttpClient { BaseAddress = node.BaseAddress };

        var genm = new CmpClientSession("changeit", "ra");
        CmpResponseView genp = genm.Read(await E2e.PostCmpAsync(http, genm.BuildGeneralMessage(
            new InfoTypeAndValue(CmpObjectIdentifiers.id_it_rootCaCert, new CmpCertificate(Certificate(oldRoot))))));
        var update = RootCaKeyUpdateContent.GetInstance(Assert.Single(genp.GeneralInfo, i => i.InfoType.Equals(CmpObjectIdentifiers.id_it_rootCaKeyUpdate)).InfoValue);
        Assert.Equal(E2e.DerOfPem(newRoot), update.NewWithNew.GetEncoded(Asn1Encodable.Der));
        Assert.Equal(E2e.DerOfPem(newWithOld), update.NewWithOld.GetEncoded(Asn1Encodable.Der));
        Assert.Equal(E2e.DerOfPem(oldWithNew), update.OldWithNew.GetEncoded(Asn1Encodable.Der));

        var enroll = new CmpClientSession("changeit", "ra");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CmpResponseView ip = enroll.Read(await E2e.PostCmpAsync(http, enroll.BuildEnrollment(true, new X509Name("CN=rollover-device,O=Example"), key, implicitConfirm: true)));
        Assert.Equal(PkiBodyType.Ip, ip.BodyType);
        Assert.Contains(ip.CaPubs, c => c.AsSpan().SequenceEqual(E2e.DerOfPem(oldRoot)));
        Assert.Contains(ip.CaPubs, c => c.AsSpan().SequenceEqual(E2e.DerOfPem(newRoot)));
    }

    [Fact]
    public async Task After_the_switch_over_certificates_chain_to_the_new_root_and_through_newWithOld_to_the_old_one()
    {
        using var dir = new TempDirectory("rollover-complete");
        string data = NewDataDirectory(dir);
        Assert.Equal(0, PkiCommand.Run(["pki", "rollover-root", "--data", data], new StringWriter()));
        await File.WriteAllTextAsync(dir.File("old-root.pem"), await File.ReadAllTextAsync(Pki(data, "root-ca.pem")));
        var output = new StringWriter();

        Assert.True(PkiCommand.Run(["pki", "complete-rollover", "--data", data], output) == 0, output.ToString());
        Assert.Equal(1, PkiCommand.Run(["pki", "complete-rollover", "--data", data], new StringWriter())); // once

        Assert.Equal(E2e.DerOfPem(Pki(data, "root-ca-next.pem")), E2e.DerOfPem(Pki(data, "root-ca.pem")));
        Assert.Equal(E2e.DerOfPem(dir.File("old-root.pem")), E2e.DerOfPem(Pki(data, "root-ca.previous.pem")));
        await using NodeProcess node = await NodeProcess.StartAsync([
            $"--Pki:RootCaUpdate:NewWithNew={Pki(data, "root-ca-next.pem")}", $"--Pki:RootCaUpdate:NewWithOld={Pki(data, "root-new-with-old.pem")}",
            $"--Pki:RootCaUpdate:OldWithNew={Pki(data, "root-old-with-new.pem")}"], dataDirectory: data);
        byte[] device = await EnrollAsync(node, "CN=after-switch,O=Example");

        // New relying parties: issuing CA, then the new root.
        Assert.True(await PemVerifiesAsync(dir, Pki(data, "root-ca.pem"), Pki(data, "issuing-ca.pem"), device));
        // Relying parties that still hold only the old root: through newWithOld (the new root's key under the old root).
        string bridge = dir.File("bridge.pem");
        await File.WriteAllTextAsync(bridge, await File.ReadAllTextAsync(Pki(data, "issuing-ca.pem")) + await File.ReadAllTextAsync(Pki(data, "root-new-with-old.pem")));
        Assert.True(await PemVerifiesAsync(dir, dir.File("old-root.pem"), bridge, device));
        Assert.False(await PemVerifiesAsync(dir, dir.File("old-root.pem"), Pki(data, "issuing-ca.pem"), device));
    }

    [Fact]
    public async Task A_rollover_of_a_second_CA_works_on_its_own_folder_and_prints_its_own_settings()
    {
        using var dir = new TempDirectory("rollover-tls");
        string data = dir.File("data");
        var options = new PkiOptions();
        options.Cas["tls"] = new CaDefinitionOptions { RootSubject = "CN=TLS Root CA,O=Example", IssuingSubject = "CN=TLS Issuing CA,O=Example" };
        DevelopmentPki.LoadOrCreate(options, data, NullLogger.Instance);
        var output = new StringWriter();

        Assert.True(PkiCommand.Run(["pki", "rollover-root", "--data", data, "--ca", "tls"], output) == 0, output.ToString());

        Assert.Contains("Pki__Cas__tls__RootCaUpdate__NewWithNew=", output.ToString());
        string folder = Path.Combine(data, DevelopmentPki.FolderName + "-tls");
        Assert.True((await VerifyAsync(dir, Path.Combine(folder, "root-ca.pem"), Path.Combine(folder, "root-new-with-old.pem"))).Succeeded);
        Assert.True(Certificate(Path.Combine(folder, "root-ca-next.pem")).Subject.Equivalent(new X509Name("CN=TLS Root CA,O=Example"), inOrder: false));
        Assert.False(File.Exists(Pki(data, "root-ca-next.pem"))); // the default CA's folder is untouched
    }

    [Fact]
    public async Task A_renewed_issuing_CA_certificate_keeps_earlier_certificates_verifying_and_issues_from_the_next_start()
    {
        using var dir = new TempDirectory("renew-ca");
        string data = NewDataDirectory(dir);
        string root = Pki(data, "root-ca.pem");
        await File.WriteAllTextAsync(dir.File("issuing-before.pem"), await File.ReadAllTextAsync(Pki(data, "issuing-ca.pem")));
        byte[] before;
        await using (NodeProcess node = await NodeProcess.StartAsync(dataDirectory: data))
        {
            before = await EnrollAsync(node, "CN=before-renewal,O=Example");
        }

        Assert.Equal(0, PkiCommand.Run(["pki", "renew-ca", "--data", data], new StringWriter()));

        var previous = Certificate(dir.File("issuing-before.pem"));
        var renewed = Certificate(Pki(data, "issuing-ca.pem"));
        Assert.NotEqual(previous.SerialNumber, renewed.SerialNumber);
        Assert.Equal(previous.SubjectPublicKeyInfo, renewed.SubjectPublicKeyInfo);
        Assert.True(renewed.StartDate.ToDateTime() > previous.StartDate.ToDateTime());
        // The certificate issued before the renewal verifies under the renewed CA certificate (same key, same name).
        Assert.True(await PemVerifiesAsync(dir, root, Pki(data, "issuing-ca.pem"), before));

        await using (NodeProcess node = await NodeProcess.StartAsync(dataDirectory: data))
        {
            byte[] after = await EnrollAsync(node, "CN=after-renewal,O=Example");
            Assert.True(await PemVerifiesAsync(dir, root, Pki(data, "issuing-ca.pem"), after));
            Assert.Equal(renewed.Subject, X509CertificateStructure.GetInstance(after).Issuer);
        }
    }

    private static async Task<bool> PemVerifiesAsync(TempDirectory dir, string root, string issuing, byte[] certificate)
    {
        string path = dir.File($"cert-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(path, PemEncoding.WriteString("CERTIFICATE", certificate) + "\n");
        OpenSslResult result = await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", root, "-untrusted", issuing, path);
        return result.Succeeded;
    }

    private static async Task<byte[]> EnrollAsync(NodeProcess node, string subject)
    {
        using var http = new HttpClient { BaseAddress = node.BaseAddress };
        var session = new CmpClientSession("changeit", "ra");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CmpResponseView ip = session.Read(await E2e.PostCmpAsync(http, session.BuildEnrollment(true, new X509Name(subject), key, implicitConfirm: true)));
        Assert.Equal(PkiBodyType.Ip, ip.BodyType);
        return ip.CertificateDer!;
    }

    private static X509CertificateStructure Certificate(string pemPath) => X509CertificateStructure.GetInstance(E2e.DerOfPem(pemPath));
}
