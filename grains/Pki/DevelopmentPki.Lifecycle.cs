using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CmpCluster.Grains.Pki;

/// <summary>The files a root rollover wrote (RFC 4210 §4.4), and the settings that announce it.</summary>
public sealed record RootRolloverFiles(string NewWithNew, string NewWithNewKey, string NewWithOld, string OldWithNew);

/// <summary>What a renewal with a new key wrote: the new CA certificate, the retired one and its key's generation, and whether
/// it finished a run that was interrupted while renaming (<paramref name="Resumed"/>) rather than making a new key.</summary>
public sealed record NewKeyRenewal(string Certificate, string RetiredCertificate, int RetiredGeneration, DateTimeOffset RetiredUntil, bool Resumed);

/// <summary>
/// The CA's lifecycle on the development PKI's files, run offline by the <c>pki</c> command (silo/PkiCommand.cs) while the
/// nodes keep running on the current files: a renewed issuing-CA certificate for the same key, and a root rollover
/// made with the root's own key. Both take effect when the nodes next start (a rolling restart).
/// </summary>
public static partial class DevelopmentPki
{
    /// <summary>File names in the PKI folder of a rollover in progress.</summary>
    public const string NextRootFile = "root-ca-next", NewWithOldFile = "root-new-with-old", OldWithNewFile = "root-old-with-new";

    /// <summary>
    /// Root CA key rollover (RFC 4210 §4.4) of the CA <paramref name="ca"/> (null: the default one): a new root key of its key algorithm under the same name,
    /// self-signed (newWithNew, <see cref="PkiOptions.RootValidityYears"/>), its key certified by the old root (newWithOld)
    /// and the old root's key certified by the new one (oldWithNew), both link certificates valid until the old root
    /// ends, so relying parties that trust either root reach the other meanwhile. Nothing existing is replaced: the new
    /// files sit next to the current ones; announce them through <c>Pki:RootCaUpdate</c> (genm rootCaKeyUpdate, RFC
    /// 9483 §4.3.2) and, per alias, in caPubs (<c>IncludeNewRootInCaPubs</c>). A rollover already prepared is refused.
    /// </summary>
    public static RootRolloverFiles RollOverRoot(PkiOptions options, string dataDirectory, string? ca = null)
    {
        CaDefinition definition = DefinitionOf(options, ca, dataDirectory);
        (string folder, string passphrase) = Existing(options, dataDirectory, definition);
        if (File.Exists(Path.Combine(folder, NextRootFile + ".pem")))
        {
            throw new InvalidOperationException($"a root rollover is already prepared in {folder} ({NextRootFile}.pem)");
        }
        using AsymmetricAlgorithm oldKey = LoadKey(folder, "root-ca", passphrase);
        using X509Certificate2 oldRoot = X509CertificateLoader.LoadCertificate(LoadCertificateDer(folder, "root-ca"));
        using X509Certificate2 oldWithKey = CopyWithKey(oldRoot, oldKey);
        using AsymmetricAlgorithm newKey = NewKey(definition.KeyAlgorithm);
        DateTimeOffset now = DateTimeOffset.UtcNow.AddMinutes(-5);

        CertificateRequest selfSigned = RootRequest(oldRoot.Subject, newKey);
        // Self-signed: the certificate comes with its private key, the issuer of oldWithNew below.
        using X509Certificate2 newWithNew = selfSigned.CreateSelfSigned(now, now.AddYears(options.RootValidityYears));

        // newWithOld: the new key, under the old root's signature (issuer: the old root).
        CertificateRequest newLink = RootRequest(oldRoot.Subject, newKey);
        newLink.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(oldRoot, true, false));
        using X509Certificate2 newWithOld = newLink.Create(oldWithKey, now, oldRoot.NotAfter, NewSerial());

        // oldWithNew: the old key, under the new root's signature.
        CertificateRequest oldLink = RootRequest(oldRoot.Subject, oldKey);
        oldLink.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(newWithNew, true, false));
        using X509Certificate2 oldWithNew = oldLink.Create(newWithNew, now, oldRoot.NotAfter, NewSerial());

        // Written under temporary names and renamed, certificates last: a crash leaves no announced rollover without its key.
        string staging = Path.Combine(folder, ".root-rollover.tmp");
        Directory.CreateDirectory(staging);
        WriteKey(staging, NextRootFile, newKey, passphrase);
        WriteCertificate(staging, NewWithOldFile, newWithOld);
        WriteCertificate(staging, OldWithNewFile, oldWithNew);
        WriteCertificate(staging, NextRootFile, newWithNew);
        foreach (string name in new[] { NextRootFile + ".key.pem", NewWithOldFile + ".pem", OldWithNewFile + ".pem", NextRootFile + ".pem" })
        {
            File.Move(Path.Combine(staging, name), Path.Combine(folder, name));
        }
        Directory.Delete(staging);
        return new RootRolloverFiles(Path.Combine(folder, NextRootFile + ".pem"), Path.Combine(folder, NextRootFile + ".key.pem"),
            Path.Combine(folder, NewWithOldFile + ".pem"), Path.Combine(folder, OldWithNewFile + ".pem"));
    }

    /// <summary>
    /// A new issuing-CA certificate for the same key and name, signed by the root, valid <see cref="PkiOptions.IssuingValidityYears"/>
    /// from now and never beyond the root (RFC 5280 §6.1). Certificates issued before keep verifying: same key, same
    /// name, same key identifier. The previous certificate is kept as <c>issuing-ca.previous-SERIAL.pem</c>; the chain
    /// file is rewritten. Returns the new certificate's path.
    /// </summary>
    public static string RenewIssuingCa(PkiOptions options, string dataDirectory, string? ca = null)
    {
        (string folder, string passphrase) = Existing(options, dataDirectory, DefinitionOf(options, ca, dataDirectory));
        using AsymmetricAlgorithm rootKey = LoadKey(folder, "root-ca", passphrase);
        using X509Certificate2 root = X509CertificateLoader.LoadCertificate(LoadCertificateDer(folder, "root-ca"));
        using X509Certificate2 rootWithKey = CopyWithKey(root, rootKey);
        return IssueCaCertificate(options, folder, passphrase, rootWithKey);
    }

    /// <summary>
    /// A renewal of the issuing CA with a new key: a new key of the CA key's algorithm and a certificate for it with the same
    /// name and a new key identifier, signed by the root under the rules of <see cref="RenewIssuingCa"/>, and a CMP signer and
    /// an OCSP signer issued by it (the current ones chain to the old key). The old key and its certificate stay as
    /// <c>issuing-ca.retired-kN</c> (N: the old key's generation, <see cref="CertificateAuthorityKeys.KeyGeneration"/>): the
    /// nodes load them to sign the CRL and the OCSP answers of the certificates the old key signed (RFC 5280 §5, RFC 6960
    /// §4.2.2.2) until its certificate ends. Everything is written in a staging folder, marked complete, then renamed into
    /// place, the retired files first and the certificates last; a run interrupted while renaming is finished by the next
    /// one. A CA whose key is on a PKCS#11 token is refused: a new key there is a key ceremony.
    /// </summary>
    public static NewKeyRenewal RenewIssuingCaWithNewKey(PkiOptions options, string dataDirectory, string? ca = null)
    {
        CaDefinition definition = DefinitionOf(options, ca, dataDirectory);
        if (options.CaKeys.ContainsKey(definition.Name) || RecordedCas.Read(dataDirectory, definition.Name) is { Pkcs11Token: not null })
        {
            throw new InvalidOperationException($"the key of CA '{definition.Name}' is on a PKCS#11 token: a new key there is a key ceremony. Make the "
                + "key and its CA certificate on the token and import them as a new CA (POST /api/v1/cas/import with pkcs11Token and pkcs11KeyLabel), "
                + "move the aliases to it and disable this one, which keeps its CRL and OCSP");
        }
        (string folder, string passphrase) = Existing(options, dataDirectory, definition);
        string staging = Path.Combine(folder, RekeyStaging);
        if (Directory.Exists(staging) && File.Exists(Path.Combine(staging, RekeyReady)))
        {
            // The retired key is the first file moved: still staged, it names the generation; moved, it is the newest one.
            int resumed = Directory.GetFiles(staging).Select(RetiredGenerationOf).FirstOrDefault(g => g >= 0, -1) is var staged and >= 0
                ? staged : KeyGenerationOf(folder) - 1;
            MoveRekeyFiles(staging, folder, resumed);
            return Renewal(folder, resumed, true);
        }
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true); // staged, never marked complete: nothing was moved
        }

        int generation = KeyGenerationOf(folder);
        using AsymmetricAlgorithm rootKey = LoadKey(folder, "root-ca", passphrase);
        using X509Certificate2 root = X509CertificateLoader.LoadCertificate(LoadCertificateDer(folder, "root-ca"));
        using X509Certificate2 rootWithKey = CopyWithKey(root, rootKey);
        using AsymmetricAlgorithm oldKey = LoadKey(folder, "issuing-ca", passphrase);
        using X509Certificate2 previous = X509CertificateLoader.LoadCertificate(LoadCertificateDer(folder, "issuing-ca"));
        using AsymmetricAlgorithm newKey = NewKey(AlgorithmOf(oldKey) ?? definition.KeyAlgorithm);
        DateTimeOffset now = DateTimeOffset.UtcNow.AddMinutes(-5);
        using X509Certificate2 renewed = IssuingCaCertificate(previous.Subject, newKey, rootWithKey, now, options.IssuingValidityYears);

        var issuer = new CaIssuer(renewed, Generator(newKey));
        (X509Certificate2 signer, AsymmetricAlgorithm signerKey) = IssueCmpSigner(options, definition, issuer, now);
        (X509Certificate2 ocsp, AsymmetricAlgorithm ocspKey) = IssueOcspSigner(options, definition, issuer, OcspKeyFor(newKey), now);
        using (signer)
        using (signerKey)
        using (ocsp)
        using (ocspKey)
        {
            Directory.CreateDirectory(staging);
            File.Copy(Path.Combine(folder, "issuing-ca.key.pem"), Path.Combine(staging, RetiredFile(generation) + ".key.pem"));
            File.Copy(Path.Combine(folder, "issuing-ca.pem"), Path.Combine(staging, RetiredFile(generation) + ".pem"));
            WriteKey(staging, "issuing-ca", newKey, passphrase);
            WriteKey(staging, "cmp-signer", signerKey, passphrase);
            WriteKey(staging, OcspSignerFile, ocspKey, passphrase);
            WriteCertificate(staging, "cmp-signer", signer);
            WriteCertificate(staging, OcspSignerFile, ocsp);
            WriteCertificate(staging, "issuing-ca", renewed);
            File.WriteAllText(Path.Combine(staging, "ca-chain.pem"), renewed.ExportCertificatePem() + "\n" + root.ExportCertificatePem() + "\n");
        }
        File.WriteAllText(Path.Combine(staging, RekeyReady), "");
        MoveRekeyFiles(staging, folder, generation);
        return Renewal(folder, generation, false);
    }

    /// <summary>The staging folder of a renewal with a new key, and the file that marks it complete.</summary>
    private const string RekeyStaging = ".issuing-rekey.tmp", RekeyReady = "ready";

    /// <summary>The files of the CA's retired key of generation <paramref name="generation"/>, without <c>.pem</c> / <c>.key.pem</c>.</summary>
    internal static string RetiredFile(int generation) => $"issuing-ca.retired-k{generation}";

    /// <summary>The generation of a retired key file's path, or -1 for another file.</summary>
    private static int RetiredGenerationOf(string path)
    {
        string name = Path.GetFileName(path);
        const string prefix = "issuing-ca.retired-k", suffix = ".key.pem";
        return name.StartsWith(prefix, StringComparison.Ordinal) && name.EndsWith(suffix, StringComparison.Ordinal)
            && int.TryParse(name.AsSpan(prefix.Length, name.Length - prefix.Length - suffix.Length), System.Globalization.NumberStyles.None, null, out int g)
            && RetiredFile(g) + suffix == name ? g : -1;
    }

    /// <summary>The generations of the retired keys in <paramref name="folder"/>, oldest first.</summary>
    internal static int[] RetiredGenerations(string folder) =>
        [.. Directory.GetFiles(folder, "issuing-ca.retired-k*.key.pem").Select(RetiredGenerationOf).Where(g => g >= 0).Order()];

    /// <summary>The generation of the CA's current key: one after its newest retired key, 0 when it has none.</summary>
    internal static int KeyGenerationOf(string folder) => RetiredGenerations(folder) is [.., int newest] ? newest + 1 : 0;

    /// <summary>Renames the staged files into place: the retired key and certificate first (the old key is never only in the
    /// staging folder), the new keys, then the certificates; a file already moved by an interrupted run is skipped.</summary>
    private static void MoveRekeyFiles(string staging, string folder, int retiredGeneration)
    {
        foreach (string name in new[] { RetiredFile(retiredGeneration) + ".key.pem", RetiredFile(retiredGeneration) + ".pem", "issuing-ca.key.pem",
            "cmp-signer.key.pem", OcspSignerFile + ".key.pem", "cmp-signer.pem", OcspSignerFile + ".pem", "ca-chain.pem", "issuing-ca.pem" })
        {
            if (File.Exists(Path.Combine(staging, name)))
            {
                File.Move(Path.Combine(staging, name), Path.Combine(folder, name), overwrite: true);
            }
        }
        Directory.Delete(staging, recursive: true);
    }

    private static NewKeyRenewal Renewal(string folder, int retiredGeneration, bool resumed)
    {
        string retired = Path.Combine(folder, RetiredFile(retiredGeneration) + ".pem");
        using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(LoadCertificateDer(folder, RetiredFile(retiredGeneration)));
        return new NewKeyRenewal(Path.Combine(folder, "issuing-ca.pem"), retired, retiredGeneration, certificate.NotAfter.ToUniversalTime(), resumed);
    }

    /// <summary>
    /// A new issuing-CA certificate for the CA's key and name, signed by <paramref name="rootWithKey"/>, valid
    /// <see cref="PkiOptions.IssuingValidityYears"/> from now and never beyond that root; the previous one is kept, the
    /// chain file rewritten.
    /// </summary>
    private static string IssueCaCertificate(PkiOptions options, string folder, string passphrase, X509Certificate2 rootWithKey)
    {
        X509Certificate2 root = rootWithKey;
        using AsymmetricAlgorithm caKey = LoadKey(folder, "issuing-ca", passphrase);
        using X509Certificate2 previous = X509CertificateLoader.LoadCertificate(LoadCertificateDer(folder, "issuing-ca"));
        using X509Certificate2 renewed = IssuingCaCertificate(previous.Subject, caKey, rootWithKey, DateTimeOffset.UtcNow.AddMinutes(-5), options.IssuingValidityYears);

        File.Copy(Path.Combine(folder, "issuing-ca.pem"), Path.Combine(folder, $"issuing-ca.previous-{previous.SerialNumber}.pem"), overwrite: true);
        string staging = Path.Combine(folder, ".issuing-renewal.tmp");
        Directory.CreateDirectory(staging);
        WriteCertificate(staging, "issuing-ca", renewed);
        File.WriteAllText(Path.Combine(staging, "ca-chain.pem"), renewed.ExportCertificatePem() + "\n" + root.ExportCertificatePem() + "\n");
        File.Move(Path.Combine(staging, "issuing-ca.pem"), Path.Combine(folder, "issuing-ca.pem"), overwrite: true);
        File.Move(Path.Combine(staging, "ca-chain.pem"), Path.Combine(folder, "ca-chain.pem"), overwrite: true);
        Directory.Delete(staging);
        return Path.Combine(folder, "issuing-ca.pem");
    }

    /// <summary>
    /// The switch-over that ends a rollover <see cref="RollOverRoot"/> prepared: the issuing CA's key certified by the new
    /// root (a new issuing-CA certificate, same key and name), and the new root made the CA's root (<c>root-ca.pem</c> and
    /// its key). The old root stays as <c>root-ca.previous.pem</c> (and its key), the previous issuing-CA certificate as
    /// <c>issuing-ca.previous-SERIAL.pem</c>; the rollover's files stay where they are, so the <c>Pki:RootCaUpdate</c>
    /// announcement keeps working for clients that still hold the old root (they reach the new one through newWithOld).
    /// Returns the new issuing-CA certificate's path.
    /// </summary>
    public static string CompleteRootRollover(PkiOptions options, string dataDirectory, string? ca = null)
    {
        (string folder, string passphrase) = Existing(options, dataDirectory, DefinitionOf(options, ca, dataDirectory));
        if (!File.Exists(Path.Combine(folder, NextRootFile + ".pem")))
        {
            throw new InvalidOperationException($"no root rollover is prepared in {folder} (run pki rollover-root first)");
        }
        using X509Certificate2 current = X509CertificateLoader.LoadCertificate(LoadCertificateDer(folder, "root-ca"));
        using X509Certificate2 next = X509CertificateLoader.LoadCertificate(LoadCertificateDer(folder, NextRootFile));
        if (current.Thumbprint == next.Thumbprint)
        {
            throw new InvalidOperationException($"the rollover in {folder} is already complete");
        }
        using AsymmetricAlgorithm nextKey = LoadKey(folder, NextRootFile, passphrase);
        using X509Certificate2 nextWithKey = CopyWithKey(next, nextKey);
        string issuing = IssueCaCertificate(options, folder, passphrase, nextWithKey);
        // The old root and its key are kept under new names, then the new ones take theirs (copies: the announced files stay).
        File.Copy(Path.Combine(folder, "root-ca.pem"), Path.Combine(folder, "root-ca.previous.pem"), overwrite: true);
        File.Copy(Path.Combine(folder, "root-ca.key.pem"), Path.Combine(folder, "root-ca.previous.key.pem"), overwrite: true);
        File.Copy(Path.Combine(folder, NextRootFile + ".key.pem"), Path.Combine(folder, "root-ca.key.pem"), overwrite: true);
        File.Copy(Path.Combine(folder, NextRootFile + ".pem"), Path.Combine(folder, "root-ca.pem"), overwrite: true);
        return issuing;
    }

    /// <summary>The CA named <paramref name="ca"/> (<c>Pki:CaName</c>, one of <c>Pki:Cas</c>, or one made through the admin API
    /// whose folder is in <paramref name="dataDirectory"/>); null: the default CA.</summary>
    public static CaDefinition DefinitionOf(PkiOptions options, string? ca, string? dataDirectory = null) =>
        options.Definitions().FirstOrDefault(d => ca is null || d.Name == ca)
            ?? (ca is not null && dataDirectory is not null && RecordedCas.Read(dataDirectory, ca) is { } recorded ? RecordedCas.Definition(recorded) : null)
            ?? throw new InvalidOperationException($"no CA '{ca}' in Pki:CaName, Pki:Cas or the CAs made through the admin API");

    /// <summary>The CA's PKI folder under <paramref name="dataDirectory"/> and the passphrase of its keys; it must exist.</summary>
    private static (string Folder, string Passphrase) Existing(PkiOptions options, string dataDirectory, CaDefinition definition)
    {
        string folder = Path.Combine(Path.GetFullPath(dataDirectory), definition.Folder);
        if (!File.Exists(Path.Combine(folder, "root-ca.key.pem")))
        {
            throw new InvalidOperationException($"no development PKI with a root key in {folder}");
        }
        return (folder, string.IsNullOrEmpty(options.Passphrase) ? PkiOptions.DevelopmentPassphrase : options.Passphrase);
    }

    /// <summary>
    /// An issuing-CA certificate (RFC 5280 §4.2.1.9: CA, path length 0; keyCertSign, cRLSign, digitalSignature; its own and
    /// its root's key identifiers) for <paramref name="caKey"/>, signed by <paramref name="rootWithKey"/>, valid
    /// <paramref name="years"/> from <paramref name="notBefore"/> and never beyond the root (RFC 5280 §6.1).
    /// </summary>
    private static X509Certificate2 IssuingCaCertificate(string subject, AsymmetricAlgorithm caKey, X509Certificate2 rootWithKey, DateTimeOffset notBefore, int years)
    {
        CertificateRequest request = NewRequest(subject, caKey);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(rootWithKey, true, false));
        DateTimeOffset notAfter = notBefore.AddYears(years) is var wanted && wanted > rootWithKey.NotAfter ? rootWithKey.NotAfter : wanted;
        return request.Create(rootWithKey, notBefore, notAfter, NewSerial());
    }

    /// <summary>A root CA certificate request (RFC 5280 §4.2.1.9, §4.2.1.3): CA, keyCertSign and cRLSign, its key identifier.</summary>
    private static CertificateRequest RootRequest(string subject, AsymmetricAlgorithm subjectKey)
    {
        CertificateRequest request = NewRequest(subject, subjectKey);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request;
    }
}
