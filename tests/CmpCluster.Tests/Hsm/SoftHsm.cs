using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol.Protection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace CmpCluster.Tests.Hsm;

/// <summary>
/// Runs a test only where SoftHSM2 and OpenSC's pkcs11-tool are installed (.ci/run installs them and sets
/// CMPCLUSTER_REQUIRE_SOFTHSM, so there a missing SoftHSM fails the test instead of skipping it).
/// </summary>
public sealed class SoftHsmFactAttribute : FactAttribute
{
    public SoftHsmFactAttribute()
    {
        if (!SoftHsm.Installed && Environment.GetEnvironmentVariable("CMPCLUSTER_REQUIRE_SOFTHSM") != "1")
        {
            Skip = "SoftHSM2 is not installed (apt-get install softhsm2 opensc): PKCS#11 tests skipped";
        }
    }
}

/// <summary>
/// A SoftHSM2 token folder of its own (SOFTHSM2_CONF names it) with tokens and keys made by the same commands README.md
/// shows: <c>softhsm2-util --init-token</c>, <c>pkcs11-tool --keypairgen</c> / <c>--keygen</c>. The PKCS#11 library reads
/// SOFTHSM2_CONF once per process (at C_Initialize): in-process tests share <see cref="Process"/>'s folder, each with
/// tokens of its own label; a node process gets a folder of its own through its environment.
/// </summary>
public sealed class SoftHsm : IDisposable
{
    public const string Library = "/usr/lib/softhsm/libsofthsm2.so";
    public const string Pin = "4321-user";
    private const string SoPin = "8765-so";

    private static readonly Lazy<SoftHsm> Shared = new(() =>
    {
        var hsm = new SoftHsm();
        // The library reads the C environment (getenv), which Environment.SetEnvironmentVariable does not change on Unix.
        if (SetEnv("SOFTHSM2_CONF", hsm.ConfigFile, 1) != 0)
        {
            throw new InvalidOperationException("setenv SOFTHSM2_CONF failed");
        }
        Environment.SetEnvironmentVariable("SOFTHSM2_CONF", hsm.ConfigFile); // and the node processes this test starts

        return hsm;
    });

    public SoftHsm()
    {
        Folder = Directory.CreateTempSubdirectory("cmp-softhsm-").FullName;
        Directory.CreateDirectory(TokenFolder);
        File.WriteAllText(ConfigFile, $"directories.tokendir = {TokenFolder}\nobjectstore.backend = file\nlog.level = ERROR\n");
    }

    public static bool Installed => File.Exists(Library) && Which("pkcs11-tool") is not null && Which("softhsm2-util") is not null;

    /// <summary>The folder the test process's PKCS#11 library uses (SOFTHSM2_CONF set before the first load).</summary>
    public static SoftHsm Process
    {
        get
        {
            if (!Installed)
            {
                throw new InvalidOperationException($"SoftHSM2 is required: {Library}, pkcs11-tool and softhsm2-util (apt-get install softhsm2 opensc)");
            }
            return Shared.Value;
        }
    }

    public string Folder { get; }

    public string TokenFolder => Path.Combine(Folder, "tokens");

    public string ConfigFile => Path.Combine(Folder, "softhsm2.conf");

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary><c>softhsm2-util --init-token --free</c>: a new token with the user PIN <see cref="Pin"/>.</summary>
    public void InitToken(string label) =>
        Run("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", Pin, "--so-pin", SoPin);

    /// <summary><c>pkcs11-tool --keypairgen</c>: a key pair made on the token (sensitive, never extractable); returns the public key.</summary>
    public PublicKey GenerateKeyPair(string token, string label, string keyType)
    {
        Tool(token, "--keypairgen", "--key-type", keyType, "--label", label, "--usage-sign");
        string der = Path.Combine(Folder, $"{token}-{label}.pub.der");
        Tool(token, "--read-object", "--type", "pubkey", "--label", label, "--output-file", der);
        return PublicKey.CreateFromSubjectPublicKeyInfo(File.ReadAllBytes(der), out _);
    }

    /// <summary><c>pkcs11-tool --keygen</c> of a 32-byte generic secret with CKA_SIGN, for CKM_SHA256_HMAC.</summary>
    public void GenerateSecret(string token, string label) =>
        Tool(token, "--keygen", "--key-type", "GENERIC:32", "--label", label, "--usage-sign", "--sensitive");

    /// <summary>Runs pkcs11-tool on a token of this folder, logged in.</summary>
    public string Tool(string token, params string[] arguments) =>
        Run("pkcs11-tool", ["--module", Library, "--token-label", token, "--login", "--pin", Pin, .. arguments]);

    public string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(Which(tool) ?? tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["SOFTHSM2_CONF"] = ConfigFile;
        using Process process = System.Diagnostics.Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} exited {process.ExitCode}: {error}");
        }
        return output.Result + error;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);

    private static string? Which(string tool) => Environment.GetEnvironmentVariable("PATH")?.Split(':')
        .Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);
}

/// <summary>
/// A CA on a SoftHSM token as an operator would set it up: a root CA key in memory (an offline root), the CA, CMP signer
/// and OCSP signer keys made on the token, their certificates written as PEM files (the CMP and OCSP signer certificates
/// signed by the CA key on the token), and the settings that point the CA at them.
/// </summary>
public sealed class TokenCa
{
    public TokenCa(SoftHsm hsm, string tokenLabel, string keyType = "EC:prime256v1", bool initToken = true)
    {
        Hsm = hsm;
        TokenLabel = tokenLabel;
        if (initToken)
        {
            hsm.InitToken(tokenLabel);
        }
        string folder = Path.Combine(hsm.Folder, tokenLabel);
        Directory.CreateDirectory(folder);
        using ECDsa rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        DateTimeOffset now = DateTimeOffset.UtcNow.AddMinutes(-5);
        var rootRequest = new CertificateRequest("CN=HSM Test Root,O=CmpCluster", rootKey, HashAlgorithmName.SHA256);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        rootRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        rootRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(rootRequest.PublicKey, false));
        using X509Certificate2 root = rootRequest.CreateSelfSigned(now, now.AddYears(5));

        PublicKey caPublic = hsm.GenerateKeyPair(tokenLabel, "issuing-ca", keyType);
        var caRequest = Request("CN=HSM Test Issuing CA,O=CmpCluster", caPublic);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caPublic, false));
        caRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(root, true, false));
        using X509Certificate2 ca = caRequest.Create(root.SubjectName, X509SignatureGenerator.CreateForECDsa(rootKey), now, now.AddYears(4), Serial());

        hsm.GenerateSecret(tokenLabel, "silo-secret");
        Write(folder, "root-ca.pem", root);
        Write(folder, "issuing-ca.pem", ca);
        RootCertificate = Path.Combine(folder, "root-ca.pem");
        CaCertificate = Path.Combine(folder, "issuing-ca.pem");

        // The signer certificates are signed by the CA key on the token, through the product's own token signer.
        using Pkcs11Token token = Pkcs11Token.Open("setup-" + tokenLabel, new Pkcs11TokenOptions
        {
            Library = SoftHsm.Library, TokenLabel = tokenLabel, Pin = SoftHsm.Pin, Sessions = 1,
        }, NullLogger.Instance);
        var caKey = new Pkcs11Key(token, "setup", "issuing-ca", keyType.StartsWith("EC", StringComparison.Ordinal), ca.PublicKey.GetECDsaPublicKey()?.KeySize ?? ca.PublicKey.GetRSAPublicKey()!.KeySize, null);
        var caSigner = new TokenSignatureGenerator(caKey.Signer, caPublic);
        foreach ((string label, string subject, string eku) in new[]
        {
            ("cmp-signer", "CN=HSM Test CMP Signer,O=CmpCluster", "1.3.6.1.5.5.7.3.27"),
            ("ocsp-signer", "CN=HSM Test OCSP Signer,O=CmpCluster", "1.3.6.1.5.5.7.3.9"),
        })
        {
            PublicKey key = hsm.GenerateKeyPair(tokenLabel, label, keyType);
            CertificateRequest request = Request(subject, key);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(eku)], false));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(key, false));
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
            using X509Certificate2 certificate = request.Create(ca.SubjectName, caSigner, now, now.AddYears(2), Serial());
            Write(folder, label + ".pem", certificate);
        }
        CmpSignerCertificate = Path.Combine(folder, "cmp-signer.pem");
        OcspSignerCertificate = Path.Combine(folder, "ocsp-signer.pem");
    }

    public SoftHsm Hsm { get; }
    public string TokenLabel { get; }
    public string RootCertificate { get; }
    public string CaCertificate { get; }
    public string CmpSignerCertificate { get; }
    public string OcspSignerCertificate { get; }

    /// <summary>The settings that put CA <paramref name="ca"/> on this token (as <c>--Key=value</c> arguments or into options).</summary>
    public Dictionary<string, string> Settings(string ca = "issuing", string token = "hsm") => new()
    {
        ["Pki:CaName"] = ca,
        [$"Pki:Tokens:{token}:Library"] = SoftHsm.Library,
        [$"Pki:Tokens:{token}:TokenLabel"] = TokenLabel,
        [$"Pki:Tokens:{token}:Pin"] = SoftHsm.Pin,
        [$"Pki:CaKeys:{ca}:Token"] = token,
        [$"Pki:CaKeys:{ca}:RootCertificate"] = RootCertificate,
        [$"Pki:CaKeys:{ca}:Ca:KeyLabel"] = "issuing-ca",
        [$"Pki:CaKeys:{ca}:Ca:Certificate"] = CaCertificate,
        [$"Pki:CaKeys:{ca}:CmpSigner:KeyLabel"] = "cmp-signer",
        [$"Pki:CaKeys:{ca}:CmpSigner:Certificate"] = CmpSignerCertificate,
        [$"Pki:CaKeys:{ca}:OcspSigner:KeyLabel"] = "ocsp-signer",
        [$"Pki:CaKeys:{ca}:OcspSigner:Certificate"] = OcspSignerCertificate,
        [$"Pki:CaKeys:{ca}:SiloSecretLabel"] = "silo-secret",
    };

    /// <summary>The Pki options of <see cref="Settings"/>, as the node binds them.</summary>
    public PkiOptions Options(string ca = "issuing", Action<Dictionary<string, string>>? change = null)
    {
        Dictionary<string, string> settings = Settings(ca);
        change?.Invoke(settings);
        return new ConfigurationBuilder().AddInMemoryCollection(settings!).Build()
            .GetSection(PkiOptions.Section).Get<PkiOptions>()!;
    }

    private static CertificateRequest Request(string subject, PublicKey key) =>
        new(new X500DistinguishedName(subject), key, HashAlgorithmName.SHA256);

    private static byte[] Serial()
    {
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x01);
        return serial;
    }

    private static void Write(string folder, string name, X509Certificate2 certificate) =>
        File.WriteAllText(Path.Combine(folder, name), certificate.ExportCertificatePem() + "\n");

    /// <summary>.NET's certificate builder signing through a <see cref="KeySigner"/> (here: a key on the token).</summary>
    private sealed class TokenSignatureGenerator(KeySigner signer, PublicKey publicKey) : X509SignatureGenerator
    {
        public override byte[] GetSignatureAlgorithmIdentifier(HashAlgorithmName hashAlgorithm) =>
            signer.Algorithm.GetEncoded(Org.BouncyCastle.Asn1.Asn1Encodable.Der);

        public override byte[] SignData(byte[] data, HashAlgorithmName hashAlgorithm) => signer.Sign(data);

        protected override PublicKey BuildPublicKey() => publicKey;
    }
}
