using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;

namespace CmpCluster.Grains.Pki;

/// <summary>
/// Creates the development PKI on first start (root CA → issuing CA → CMP signer, OCSP signer) and loads it on every
/// start. Everything is written to a temporary folder that is renamed into place at the end, so a crash during
/// creation leaves either nothing or a complete PKI; later starts reuse the same keys. A folder from a version without
/// the OCSP signer gets one added next to the other files (temporary files, then renames), the rest untouched.
/// </summary>
public static partial class DevelopmentPki
{
    public const string FolderName = "pki";
    private const string CmcCaEku = "1.3.6.1.5.5.7.3.27"; // id-kp-cmcCA, RFC 6402 §2.10
    private const string CmKgaEku = "1.3.6.1.5.5.7.3.32"; // id-kp-cmKGA, RFC 9480 §2.10
    private const string OcspSigningEku = "1.3.6.1.5.5.7.3.9"; // id-kp-OCSPSigning, RFC 5280 §4.2.1.12
    private const string OcspNoCheck = "1.3.6.1.5.5.7.48.1.5"; // id-pkix-ocsp-nocheck, RFC 6960 §4.2.2.2.1
    private const string OcspSignerFile = "ocsp-signer";

    /// <summary>Every CA of <paramref name="options"/> from its development PKI folder (made at first start); tests use it.</summary>
    public static PkiKeyRing LoadOrCreate(PkiOptions options, string dataDirectory, ILogger logger)
    {
        string passphrase = Passphrase(options, logger);
        return PkiKeys.WithRecorded(options.Definitions().Select(ca => LoadOrCreate(options, ca, dataDirectory, passphrase, logger)), options, dataDirectory, logger);
    }

    /// <summary>The passphrase of the key files: <c>Pki:Passphrase</c>, or the development one with a loud warning.</summary>
    public static string Passphrase(PkiOptions options, ILogger logger)
    {
        if (string.IsNullOrEmpty(options.Passphrase))
        {
            LogDevelopmentPassphrase(logger);
            return PkiOptions.DevelopmentPassphrase;
        }
        return options.Passphrase;
    }

    /// <summary>One CA from its folder (<see cref="CaDefinition.Folder"/> under the data directory), made first if there is none.</summary>
    public static CertificateAuthorityKeys LoadOrCreate(PkiOptions options, CaDefinition definition, string dataDirectory, string passphrase, ILogger logger)
    {
        string folder = Path.Combine(Path.GetFullPath(dataDirectory), definition.Folder);
        if (!Directory.Exists(folder))
        {
            Create(options, definition, folder, passphrase);
            LogCreated(logger, definition.Name, folder);
        }
        else if (!File.Exists(Path.Combine(folder, OcspSignerFile + ".pem")) || !File.Exists(Path.Combine(folder, OcspSignerFile + ".key.pem")))
        {
            AddOcspSigner(options, definition, folder, passphrase);
            LogOcspSignerAdded(logger, Path.Combine(folder, OcspSignerFile + ".pem"));
        }
        CertificateAuthorityKeys keys = Load(definition, folder, passphrase, logger: logger);
        LogCertificates(logger, definition.Name, Path.Combine(folder, "root-ca.pem"), Path.Combine(folder, "issuing-ca.pem"),
            Path.Combine(folder, "cmp-signer.pem"), Path.Combine(folder, "ca-chain.pem"));
        return keys;
    }

    /// <summary>
    /// Reads the folder and checks what a replaced or mixed-up file would break: each key is its certificate's, the CA
    /// certificate is issued by the root and the two signers by the CA; a failure names the file and the CA's setting.
    /// </summary>
    /// <param name="tokenCa">The CA key on a PKCS#11 token (a CA imported with it, grains/Pki/RecordedCas.cs); null: <c>issuing-ca.key.pem</c>.</param>
    /// <param name="logger">Where a retired key whose certificate has ended is reported (it is left out); null: nowhere.</param>
    internal static CertificateAuthorityKeys Load(CaDefinition definition, string folder, string passphrase, KeyHolder? tokenCa = null, ILogger? logger = null)
    {
        string caName = definition.Name;
        byte[] root = LoadCertificateDer(folder, "root-ca");
        KeyHolder ca = tokenCa ?? new KeyHolder(caName, LoadKey(folder, "issuing-ca", passphrase), LoadCertificateDer(folder, "issuing-ca"));
        var signer = new KeyHolder(caName + "/cmp", LoadKey(folder, "cmp-signer", passphrase), LoadCertificateDer(folder, "cmp-signer"));
        var ocsp = new KeyHolder(caName + "/ocsp", LoadKey(folder, OcspSignerFile, passphrase), LoadCertificateDer(folder, OcspSignerFile));
        string where = $"CA '{caName}' ({definition.Setting}), folder {folder}";
        foreach ((KeyHolder key, string file) in new[] { (ca, "issuing-ca"), (signer, "cmp-signer"), (ocsp, OcspSignerFile) }.Where(k => k.Item1 != tokenCa))
        {
            PkiKeys.CheckKeyMatches(key, $"{where}: {file}.pem", $"{file}.key.pem");
        }
        PkiKeys.CheckIssuedBy(ca.CertificateDer, root, $"{where}: issuing-ca.pem", "root-ca.pem");
        PkiKeys.CheckIssuedBy(signer.CertificateDer, ca.CertificateDer, $"{where}: cmp-signer.pem", "issuing-ca.pem");
        PkiKeys.CheckIssuedBy(ocsp.CertificateDer, ca.CertificateDer, $"{where}: {OcspSignerFile}.pem", "issuing-ca.pem");
        (List<RetiredCaKey> retired, KeyHolder? first) = LoadRetired(ca, folder, passphrase, where, logger);
        return new CertificateAuthorityKeys(ca, signer, ocsp,
            Org.BouncyCastle.Asn1.X509.X509CertificateStructure.GetInstance(Org.BouncyCastle.Asn1.Asn1Object.FromByteArray(root)),
            KeyGenerationOf(folder), retired, first);
    }

    /// <summary>
    /// The CA's retired keys (<c>issuing-ca.retired-kN</c>, left by <c>pki renew-ca --new-key</c>), oldest first, each checked
    /// against its certificate, which must name the CA; those whose certificate has ended are left out with a log line
    /// (every certificate they signed has ended too, RFC 5280 §6.1). Also the oldest key, ended or not (see
    /// <see cref="CertificateAuthorityKeys.FirstKey"/>).
    /// </summary>
    private static (List<RetiredCaKey> Retired, KeyHolder? First) LoadRetired(KeyHolder ca, string folder, string passphrase, string where, ILogger? logger)
    {
        var retired = new List<RetiredCaKey>();
        KeyHolder? first = null;
        foreach (int generation in RetiredGenerations(folder))
        {
            string file = RetiredFile(generation);
            var key = new KeyHolder($"{ca.Name}/k{generation}", LoadKey(folder, file, passphrase), LoadCertificateDer(folder, file));
            PkiKeys.CheckKeyMatches(key, $"{where}: {file}.pem", $"{file}.key.pem");
            if (!key.Certificate.Subject.Equivalent(ca.Certificate.Subject, inOrder: true))
            {
                throw new InvalidOperationException($"{where}: {file}.pem is not a certificate of this CA ({key.Certificate.Subject}, not {ca.Certificate.Subject})");
            }
            first ??= key;
            DateTime notAfter = key.Certificate.EndDate.ToDateTime();
            if (notAfter <= DateTime.UtcNow)
            {
                LogRetiredKeyEnded(logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, ca.Name, generation, notAfter, Path.Combine(folder, file + ".pem"));
                continue;
            }
            retired.Add(new RetiredCaKey(generation, key));
        }
        return (retired, first);
    }

    private static byte[] LoadCertificateDer(string folder, string name) =>
        X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(folder, name + ".pem"))).RawData;

    private static AsymmetricAlgorithm LoadKey(string folder, string name, string passphrase)
    {
        string pem = File.ReadAllText(Path.Combine(folder, name + ".key.pem"));
        try
        {
            var ec = ECDsa.Create();
            ec.ImportFromEncryptedPem(pem, passphrase);
            return ec;
        }
        catch (CryptographicException)
        {
            // Not an EC key (or a wrong passphrase, which RSA will report again below).
        }
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromEncryptedPem(pem, passphrase);
        }
        catch (CryptographicException e)
        {
            throw new InvalidOperationException($"cannot decrypt {name}.key.pem: wrong Pki:Passphrase or damaged file", e);
        }
        return rsa;
    }

    /// <param name="parentFolder">With <see cref="CaDefinition.IssuedBy"/>: the folder of that CA's root key; null: the one its settings name.</param>
    private static void Create(PkiOptions options, CaDefinition definition, string folder, string passphrase, string? parentFolder = null)
    {
        // A crash during an earlier creation leaves only a staging folder behind: start over from nothing. The staging
        // folder is this process's own: silos of a cluster that share the folder may all start at once, and the first
        // rename wins (see the end of this method).
        string staging = folder + ".tmp";
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true);
        }
        staging = $"{folder}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        Directory.CreateDirectory(staging);
        DateTimeOffset now = DateTimeOffset.UtcNow.AddMinutes(-5);

        (X509Certificate2 root, AsymmetricAlgorithm rootKey) = definition.IssuedBy is { } parent
            ? LoadParentRoot(definition, parent, parentFolder ?? Path.Combine(Path.GetDirectoryName(folder)!, options.Definition(parent)!.Folder), passphrase)
            : NewRoot(options, definition, now);
        using X509Certificate2 rootDisposer = root;
        using AsymmetricAlgorithm rootKeyDisposer = rootKey;

        using AsymmetricAlgorithm caKey = NewKey(definition.KeyAlgorithm);
        using X509Certificate2 ca = IssuingCaCertificate(definition.IssuingSubject, caKey, root, now, options.IssuingValidityYears);

        var issuer = new CaIssuer(ca, Generator(caKey));
        (X509Certificate2 signer, AsymmetricAlgorithm signerKey) = IssueCmpSigner(options, definition, issuer, now);
        using X509Certificate2 signerDisposer = signer;
        using AsymmetricAlgorithm signerKeyDisposer = signerKey;

        (X509Certificate2 ocsp, AsymmetricAlgorithm ocspKey) = IssueOcspSigner(options, definition, issuer, OcspKeyFor(caKey), now);
        using (ocsp)
        using (ocspKey)
        {
            WriteCertificate(staging, OcspSignerFile, ocsp);
            WriteKey(staging, OcspSignerFile, ocspKey, passphrase);
        }

        WriteCertificate(staging, "root-ca", root);
        WriteCertificate(staging, "issuing-ca", ca);
        WriteCertificate(staging, "cmp-signer", signer);
        File.WriteAllText(Path.Combine(staging, "ca-chain.pem"), ca.ExportCertificatePem() + "\n" + root.ExportCertificatePem() + "\n");
        if (definition.IssuedBy is null)
        {
            WriteKey(staging, "root-ca", rootKey, passphrase); // a borrowed root's key stays in its own CA's folder only
        }
        WriteKey(staging, "issuing-ca", caKey, passphrase);
        WriteKey(staging, "cmp-signer", signerKey, passphrase);
        try
        {
            Directory.Move(staging, folder);
        }
        catch (IOException) when (Directory.Exists(folder))
        {
            // Another silo sharing the folder finished first: its PKI is the cluster's; drop ours unused.
            Directory.Delete(staging, recursive: true);
        }
    }

    private static (X509Certificate2, AsymmetricAlgorithm) NewRoot(PkiOptions options, CaDefinition definition, DateTimeOffset now)
    {
        AsymmetricAlgorithm key = NewKey(definition.KeyAlgorithm);
        return (RootRequest(definition.RootSubject, key).CreateSelfSigned(now, now.AddYears(options.RootValidityYears)), key);
    }

    /// <summary>The root of CA <paramref name="parent"/>, with its key, from that CA's development folder (IssuedBy).</summary>
    private static (X509Certificate2, AsymmetricAlgorithm) LoadParentRoot(CaDefinition definition, string parent, string parentFolder, string passphrase)
    {
        if (!File.Exists(Path.Combine(parentFolder, "root-ca.key.pem")))
        {
            throw new InvalidOperationException($"{definition.Setting}:IssuedBy: the root key of CA '{parent}' ({Path.Combine(parentFolder, "root-ca.key.pem")}) "
                + "is not there (moved offline?); put it back for this first start, or make this CA's folder elsewhere");
        }
        AsymmetricAlgorithm key = LoadKey(parentFolder, "root-ca", passphrase);
        using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(LoadCertificateDer(parentFolder, "root-ca"));
        return (CopyWithKey(certificate, key), key);
    }

    /// <summary>
    /// The CA's CMP signer (RFC 9483 §3.3), a key of the CA's algorithm. OpenSSL refuses a response signer without
    /// digitalSignature; id-kp-cmcCA marks it as the CA's CMP signer, and id-kp-cmKGA as the key generation authority that
    /// signs server-generated keys (RFC 9483 §4.1.6). It never outlives the CA (RFC 5280 §6.1).
    /// </summary>
    private static (X509Certificate2, AsymmetricAlgorithm) IssueCmpSigner(PkiOptions options, CaDefinition definition, CaIssuer issuer, DateTimeOffset notBefore)
    {
        AsymmetricAlgorithm key = NewKey(definition.KeyAlgorithm);
        CertificateRequest request = NewRequest(definition.CmpSignerSubject, key);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(CmcCaEku), new Oid(CmKgaEku)], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return (issuer.Issue(request, notBefore, notBefore.AddYears(options.CmpSignerValidityYears)), key);
    }

    /// <summary>
    /// RFC 6960 §4.2.2.2: a delegated responder's certificate is issued directly by the CA, carries id-kp-OCSPSigning,
    /// and (§4.2.2.2.1) id-pkix-ocsp-nocheck so clients do not ask about the responder itself. Same key type as the CA.
    /// </summary>
    private static (X509Certificate2, AsymmetricAlgorithm) IssueOcspSigner(PkiOptions options, CaDefinition definition, CaIssuer issuer,
        AsymmetricAlgorithm key, DateTimeOffset notBefore)
    {
        CertificateRequest request = NewRequest(definition.OcspSignerSubject, key);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(OcspSigningEku)], false));
        request.CertificateExtensions.Add(new X509Extension(OcspNoCheck, [0x05, 0x00], false)); // value NULL
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return (issuer.Issue(request, notBefore, notBefore.AddYears(options.CmpSignerValidityYears)), key);
    }

    /// <summary>The OCSP signer's key: the CA key's type and size.</summary>
    private static AsymmetricAlgorithm OcspKeyFor(AsymmetricAlgorithm caKey) => caKey switch
    {
        ECDsa ec => ec.KeySize > 256 ? ECDsa.Create(ECCurve.NamedCurves.nistP384) : ECDsa.Create(ECCurve.NamedCurves.nistP256),
        RSA rsa => RSA.Create(rsa.KeySize),
        _ => throw new NotSupportedException(),
    };

    /// <summary>The CA signing what it issues here (its signers), with a key in this process or on a token.</summary>
    private sealed record CaIssuer(X509Certificate2 Certificate, X509SignatureGenerator Generator)
    {
        /// <summary>The certificate <paramref name="request"/> asks for, with the CA's key identifier, never outliving the CA (RFC 5280 §6.1).</summary>
        public X509Certificate2 Issue(CertificateRequest request, DateTimeOffset notBefore, DateTimeOffset notAfter)
        {
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
            return request.Create(Certificate.SubjectName, Generator, notBefore, notAfter > Certificate.NotAfter ? Certificate.NotAfter : notAfter, NewSerial());
        }
    }

    private static X509SignatureGenerator Generator(AsymmetricAlgorithm key) => key switch
    {
        ECDsa ec => X509SignatureGenerator.CreateForECDsa(ec),
        RSA rsa => X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1),
        _ => throw new NotSupportedException(),
    };

    /// <summary>
    /// Upgrade of a PKI folder made before the OCSP signer existed: issue one with the existing CA key. Both files are
    /// written under temporary names and renamed, key first: a crash leaves at worst a key without a certificate, which
    /// the next start replaces.
    /// </summary>
    private static void AddOcspSigner(PkiOptions options, CaDefinition definition, string folder, string passphrase)
    {
        using AsymmetricAlgorithm caKey = LoadKey(folder, "issuing-ca", passphrase);
        using X509Certificate2 ca = X509CertificateLoader.LoadCertificate(LoadCertificateDer(folder, "issuing-ca"));
        (X509Certificate2 ocsp, AsymmetricAlgorithm ocspKey) = IssueOcspSigner(options, definition, new CaIssuer(ca, Generator(caKey)), OcspKeyFor(caKey),
            DateTimeOffset.UtcNow.AddMinutes(-5));
        using (ocsp)
        using (ocspKey)
        {
            string staging = Path.Combine(folder, ".ocsp-signer.tmp");
            Directory.CreateDirectory(staging);
            WriteCertificate(staging, OcspSignerFile, ocsp);
            WriteKey(staging, OcspSignerFile, ocspKey, passphrase);
            File.Move(Path.Combine(staging, OcspSignerFile + ".key.pem"), Path.Combine(folder, OcspSignerFile + ".key.pem"), overwrite: true);
            File.Move(Path.Combine(staging, OcspSignerFile + ".pem"), Path.Combine(folder, OcspSignerFile + ".pem"), overwrite: true);
            Directory.Delete(staging, recursive: true);
        }
    }

    private static X509Certificate2 CopyWithKey(X509Certificate2 certificate, AsymmetricAlgorithm key) => key switch
    {
        ECDsa ec => certificate.CopyWithPrivateKey(ec),
        RSA rsa => certificate.CopyWithPrivateKey(rsa),
        _ => throw new NotSupportedException(),
    };

    private static AsymmetricAlgorithm NewKey(CaKeyAlgorithm algorithm) => algorithm switch
    {
        CaKeyAlgorithm.EcP256 => ECDsa.Create(ECCurve.NamedCurves.nistP256),
        CaKeyAlgorithm.EcP384 => ECDsa.Create(ECCurve.NamedCurves.nistP384),
        CaKeyAlgorithm.Rsa2048 => RSA.Create(2048),
        CaKeyAlgorithm.Rsa3072 => RSA.Create(3072),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    private static CertificateRequest NewRequest(string subject, AsymmetricAlgorithm key)
    {
        var name = new X500DistinguishedName(subject);
        return key switch
        {
            ECDsa ec => new CertificateRequest(name, ec, ec.KeySize > 256 ? HashAlgorithmName.SHA384 : HashAlgorithmName.SHA256),
            RSA rsa => new CertificateRequest(name, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            _ => throw new NotSupportedException(),
        };
    }

    /// <summary>RFC 5280 §4.1.2.2: positive, at most 20 octets; 16 random bytes with the top bit cleared.</summary>
    private static byte[] NewSerial()
    {
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x01);
        return serial;
    }

    private static void WriteCertificate(string folder, string name, X509Certificate2 certificate) =>
        File.WriteAllText(Path.Combine(folder, name + ".pem"), certificate.ExportCertificatePem() + "\n");

    private static void WriteKey(string folder, string name, AsymmetricAlgorithm key, string passphrase)
    {
        var pbe = new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 200_000);
        string path = Path.Combine(folder, name + ".key.pem");
        File.WriteAllText(path, key.ExportEncryptedPkcs8PrivateKeyPem(Encoding.UTF8.GetBytes(passphrase), pbe) + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Warning,
        Message = "!!! Pki:Passphrase is not set: CA keys are encrypted with the DEVELOPMENT passphrase. Set Pki__Passphrase before any real use. !!!")]
    private static partial void LogDevelopmentPassphrase(ILogger logger);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "CA {Ca}: created a new development PKI in {Folder}")]
    private static partial void LogCreated(ILogger logger, string ca, string folder);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information,
        Message = "CA {Ca} certificates: root {Root}, issuing {Issuing}, CMP signer {Signer}, chain {Chain}")]
    private static partial void LogCertificates(ILogger logger, string ca, string root, string issuing, string signer, string chain);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Added a delegated OCSP signer to the existing development PKI: {Certificate}")]
    private static partial void LogOcspSignerAdded(ILogger logger, string certificate);

    [LoggerMessage(EventId = 108, Level = LogLevel.Warning,
        Message = "CA {Ca}: the retired key of generation {Generation} ended {NotAfter:u} ({Certificate}); it no longer signs CRLs or OCSP answers")]
    private static partial void LogRetiredKeyEnded(ILogger logger, string ca, int generation, DateTime notAfter, string certificate);
}
