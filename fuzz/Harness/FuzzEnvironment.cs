using CmpCluster.Gateway;
using CmpCluster.Grains.Authentication;
using CmpCluster.Grains.Handlers;
using CmpCluster.Grains.Pki;
using CmpCluster.Grains.Revocation;
using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans;

namespace CmpCluster.Fuzz.Harness;

/// <summary>
/// Everything the harnesses share, built once per process: a development PKI in a temporary folder (the subjects of
/// <see cref="PkiOptions"/>' defaults, so requests made against a default node name this CA), the product's limits and
/// two aliases, and the product's handlers wired to <see cref="NoClusterGrainFactory"/>.
/// </summary>
public sealed class FuzzEnvironment
{
    public const string RaAliasName = "ra";
    public const string ClientAliasName = "client";

    private static readonly Lazy<FuzzEnvironment> Shared = new(() => new FuzzEnvironment());

    public static FuzzEnvironment Instance => Shared.Value;

    private FuzzEnvironment()
    {
        Folder = Path.Combine(Path.GetTempPath(), $"cmpcluster-fuzz-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Pki = new PkiOptions { CmpRaSecret = "changeit" };
        Keys = DevelopmentPki.LoadOrCreate(Pki, Folder, NullLogger.Instance);
        Ca = Keys.Authorities.Single();
        string rootPem = Path.Combine(Folder, DevelopmentPki.FolderName, "root-ca.pem");

        // The shipped limits (protocol/Configuration/CmpOptions.cs), except two that only cost fuzzing time or turn every
        // corpus input away as it ages: the PBM iteration cap is lowered (the bound check itself still runs; see fuzz/README.md),
        // and the messageTime window never refuses (messageTime is still parsed by HeaderValidator).
        Limits = new CmpLimits { MaxPbmIterations = 10_000, MessageTimeWindow = TimeSpan.MaxValue };
        RaAlias = new CmpAliasOptions
        {
            Mode = AliasMode.Ra,
            AuthenticationModules = [AuthenticationModules.Hmac, AuthenticationModules.EndEntityCertificate],
            Secret = "changeit",
            RaAdministrators = ["ra-admin"],
            NestedRaTrustAnchors = [rootPem],
        };
        ClientAlias = new CmpAliasOptions
        {
            Mode = AliasMode.Client,
            AuthenticationModules = [AuthenticationModules.RegTokenPwd, AuthenticationModules.EndEntityCertificate],
            UserLookup = UserLookup.Cn,
            VendorCertificateMode = true,
            VendorCas = [rootPem],
        };
        Profile = new CertificateProfileOptions();
        var options = new CmpOptions { Limits = Limits };
        options.Aliases[RaAliasName] = RaAlias;
        options.Aliases[ClientAliasName] = ClientAlias;
        options.Profiles["default"] = Profile;
        Options = new FixedOptionsMonitor<CmpOptions>(options);

        Grains = NoClusterGrainFactory.Create();
        IOptions<PkiOptions> pki = Microsoft.Extensions.Options.Options.Create(Pki);
        Dispatcher = new CmpDispatcher(Grains, Options);
        Authenticator = new RequestAuthenticator(Grains, pki, Keys, new VendorCertificates(TimeProvider.System), new CmpCluster.Grains.EndEntities.GrainSubjectIndex(Grains), TimeProvider.System);
        // Prepare (the checks and POP of an enrollment) never touches the issuer; issuing is a grain call.
        Enrollment = new EnrollmentHandler(null!, new AliasCertificates(new RootCaUpdates(pki)));
        CertConf = new CertConfHandler(Grains);
        Revocation = new RevocationHandler(Grains, Keys, Options);
        Genm = new GenmHandler(Grains, new RootCaUpdates(pki), pki, Options);
        OcspIssuers = new OcspIssuerIndex(Keys);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(Folder);
    }

    public string Folder { get; }
    public PkiOptions Pki { get; }
    public PkiKeyRing Keys { get; }
    public CertificateAuthorityKeys Ca { get; }
    public CmpLimits Limits { get; }
    public CmpAliasOptions RaAlias { get; }
    public CmpAliasOptions ClientAlias { get; }
    public CertificateProfileOptions Profile { get; }
    public IOptionsMonitor<CmpOptions> Options { get; }
    public IGrainFactory Grains { get; }
    public CmpDispatcher Dispatcher { get; }
    public RequestAuthenticator Authenticator { get; }
    public EnrollmentHandler Enrollment { get; }
    public CertConfHandler CertConf { get; }
    public RevocationHandler Revocation { get; }
    public GenmHandler Genm { get; }
    public OcspIssuerIndex OcspIssuers { get; }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>An options monitor over one fixed value.</summary>
public sealed class FixedOptionsMonitor<T>(T value) : IOptionsMonitor<T>
{
    public T CurrentValue => value;

    public T Get(string? name) => value;

    public IDisposable? OnChange(Action<T, string?> listener) => null;
}
