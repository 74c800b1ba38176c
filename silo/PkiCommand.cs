using CmpCluster.Contracts;
using CmpCluster.Grains.Pki;
using Microsoft.Extensions.Configuration;

namespace CmpCluster.Silo;

/// <summary>
/// <c>pki rollover-root</c>, <c>pki complete-rollover</c> and <c>pki renew-ca [--new-key]</c>: the CA's lifecycle on the
/// development PKI's files (grains/Pki/DevelopmentPki.Lifecycle.cs), run next to a node with the same settings
/// (<c>Pki__Passphrase</c>, and <c>--data</c> as <c>Node:DataDirectory</c>, default <c>./data</c>). Starts no node; the
/// nodes take the new files at their next start. Exit 0 done, 1 refused (e.g. a rollover already prepared, a new key for a
/// CA whose key is on a PKCS#11 token), 2 usage.
/// </summary>
public static class PkiCommand
{
    public const string Usage = """
        usage: pki rollover-root [--data <dir>] [--ca <name>]   new root key and certificates (RFC 4210 §4.4), announced after a restart
               pki renew-ca [--data <dir>] [--ca <name>]        new issuing-CA certificate for the same key, used after a restart
               pki renew-ca --new-key [--data <dir>] [--ca <name>]  new key and issuing-CA certificate; the old key keeps signing
                                                                    the CRL and OCSP answers of its certificates until it ends
               pki complete-rollover [--data <dir>] [--ca <name>]  the issuing CA under the new root, which becomes the root
          --data  data directory of the node (default ./data); the keys' passphrase comes from Pki__Passphrase
          --ca    a CA of Pki:Cas (its settings given as to the node, e.g. Pki__Cas__tls__KeyAlgorithm), or one made through the
                  admin API (data/pki-<name>/ca.json); default: Pki:CaName
        """;

    public static bool Handles(string[] args) => args.Length > 0 && args[0] == "pki";

    public static int Run(string[] args, TextWriter output)
    {
        PkiOptions options = new ConfigurationBuilder().AddEnvironmentVariables().Build().GetSection(PkiOptions.Section).Get<PkiOptions>() ?? new PkiOptions();
        string data = "data";
        string? ca = null;
        bool newKey = false;
        for (int i = 2; i < args.Length; i++)
        {
            if (args[i] == "--data" && i + 1 < args.Length)
            {
                data = args[++i];
            }
            else if (args[i] == "--new-key" && args[1] == "renew-ca")
            {
                newKey = true;
            }
            else if (args[i] == "--ca" && i + 1 < args.Length)
            {
                ca = args[++i];
            }
            else
            {
                output.WriteLine($"unknown argument '{args[i]}'\n{Usage}");
                return 2;
            }
        }
        // A CA named only on the command line: one made through the admin API is found by its ca.json; another by its folder
        // name, its settings default.
        if (ca is not null && ca != options.CaName && RecordedCas.Read(data, ca) is null)
        {
            options.Cas.TryAdd(ca, new CaDefinitionOptions());
        }
        try
        {
            switch (args.Length > 1 ? args[1] : "")
            {
                case "rollover-root":
                    RootRolloverFiles files = DevelopmentPki.RollOverRoot(options, data, ca);
                    string setting = DevelopmentPki.DefinitionOf(options, ca, data).Setting.Replace(":", "__", StringComparison.Ordinal) + "__RootCaUpdate__";
                    output.WriteLine($"""
                        new root (newWithNew): {files.NewWithNew}
                        new root key:          {files.NewWithNewKey}
                        newWithOld:            {files.NewWithOld}
                        oldWithNew:            {files.OldWithNew}
                        Announce it (genm rootCaKeyUpdate, RFC 9483 §4.3.2) by starting the nodes with
                          {setting}NewWithNew={files.NewWithNew}
                          {setting}NewWithOld={files.NewWithOld}
                          {setting}OldWithNew={files.OldWithNew}
                        and, on aliases whose clients install caPubs, Cmp__Aliases__<alias>__IncludeNewRootInCaPubs=true.
                        """);
                    return 0;
                case "complete-rollover":
                    output.WriteLine($"issuing-CA certificate under the new root: {DevelopmentPki.CompleteRootRollover(options, data, ca)}\n" +
                        "root-ca.pem is the new root now (the old one: root-ca.previous.pem). The nodes use both from their next start; keep " +
                        "the Pki:RootCaUpdate announcement while clients may still hold the old root.");
                    return 0;
                case "renew-ca" when newKey:
                    NewKeyRenewal renewal = DevelopmentPki.RenewIssuingCaWithNewKey(options, data, ca);
                    string name = DevelopmentPki.DefinitionOf(options, ca, data).Name;
                    output.WriteLine($"""
                        {(renewal.Resumed ? "completed the interrupted renewal with a new key" : "renewed with a new key")}:
                        issuing-CA certificate: {renewal.Certificate}
                        retired key (generation {renewal.RetiredGeneration}): {renewal.RetiredCertificate}, until {renewal.RetiredUntil:u}
                        Restart every node (a rolling restart): from its next start each node issues with the new key, whose
                        certificates name the CRL /crl/{CrlNames.Of(name, renewal.RetiredGeneration + 1)}.crl, and keeps signing the CRL
                        /crl/{CrlNames.Of(name, renewal.RetiredGeneration)}.crl and the OCSP answers of the retired key's certificates
                        until it ends. Keep the retired files: the nodes need them.
                        """);
                    return 0;
                case "renew-ca":
                    output.WriteLine($"renewed issuing-CA certificate: {DevelopmentPki.RenewIssuingCa(options, data, ca)}\nThe nodes use it from their next start.");
                    return 0;
                default:
                    output.WriteLine(Usage);
                    return 2;
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            output.WriteLine("refused: " + e.Message);
            return 1;
        }
    }
}
