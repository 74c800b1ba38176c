using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using CmpCluster.Gateway.Admin;
using CmpCluster.Gateway.Hosting;
using CmpCluster.Gateway.RateLimiting;
using CmpCluster.Gateway.Tcp;
using CmpCluster.Gateway.Telemetry;
using CmpCluster.Grains.Audit;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Silo;

namespace CmpCluster.Tests.Configuration;

/// <summary>
/// Writes docs/CONFIGURATION.md from the options types the hosts bind: for every key its type, its default (read from a
/// default-constructed instance, so what applies when the key is absent), its range (the [Range], [Required] and
/// [RegularExpression] attributes that the validators enforce, OptionAnnotations) and the summary from the XML
/// documentation files that protocol/, grains/, gateway/ and silo/ generate. Only properties with a public setter are
/// keys (what the configuration binder sets); options objects nested in an options object, or held in a dictionary under
/// a name, get a table of their own.
/// </summary>
public static partial class ConfigurationReference
{
    /// <summary>The command that rewrites the file, named in the test's failure message and in the file itself.</summary>
    public const string UpdateCommand = "UPDATE_CONFIG_DOC=1 dotnet test tests/CmpCluster.Tests --filter FullyQualifiedName~ConfigurationDocTests";

    /// <summary>Each section the hosts bind, the options type bound to it and where the binding is.</summary>
    private static readonly (string Section, Type Type, string BoundIn)[] Sections =
    [
        (NodeOptions.Section, typeof(NodeOptions), "silo/Program.cs (silo only)"),
        (CmpOptions.Section, typeof(CmpOptions), "silo/Program.cs; gateway/Hosting/GatewayProgram.cs (aliases, limits and profile names only)"),
        (PkiOptions.Section, typeof(PkiOptions), "silo/Program.cs (silo only)"),
        (AuditOptions.Section, typeof(AuditOptions), "grains/Audit/AuditServices.cs (silo only)"),
        (ManagementOptions.Section, typeof(ManagementOptions), "gateway/Hosting/ManagementListener.cs (silo and gateway)"),
        (AdminOptions.Section, typeof(AdminOptions), "gateway/Admin/AdminApi.cs (silo and gateway)"),
        (RateLimitOptions.Section, typeof(RateLimitOptions), "gateway/RateLimiting/HttpRateLimiting.cs (silo and gateway)"),
        (TcpOptions.Section, typeof(TcpOptions), "gateway/Tcp/CmpTcpListener.cs (silo and gateway)"),
        (TelemetryOptions.Section, typeof(TelemetryOptions), "gateway/Telemetry/CmpTelemetry.cs (silo and gateway)"),
    ];

    /// <summary>Keys read one by one rather than through an options type: key, type, default, what, where.</summary>
    private static readonly (string Key, string Type, string Default, string What)[] OtherKeys =
    [
        ("urls", "string", $"`{ManagementListener.DefaultDeviceUrl}`",
            "The device listener (CMP, CRL, OCSP, health), URLs separated by ';'; also `--urls` and `ASPNETCORE_URLS`. Ignored when `Kestrel:Endpoints` is set. gateway/Hosting/ManagementListener.cs"),
        ("Kestrel:Endpoints:NAME:Url, ...:Certificate:Path, ...:Certificate:KeyPath, ...:ClientCertificateMode", "Kestrel", "unset",
            "Kestrel's own endpoint settings (HTTPS, client certificates); when set they are the device listener. gateway/Hosting/GatewayTls.cs"),
        (GatewayTls.ClientCaKey, "string", "unset",
            "PEM bundle of the CAs that RA client certificates must chain to (HTTPS with client certificates). gateway/Hosting/GatewayTls.cs"),
        (ClusterConnection.RedisKey, "string", "unset (gateway/gateway.json: `127.0.0.1:6379`)",
            "StackExchange.Redis connection string of the cluster's Redis; required in cluster mode (silos and gateways). gateway/Hosting/ClusterConnection.cs"),
        (ClusterTls.Section + ":Enabled", "bool", "`true`",
            "Mutual TLS on the Orleans links in cluster mode; false only for a network isolated some other way. gateway/Hosting/ClusterTls.cs"),
        (ClusterTls.Section + ":CertificatePath, ...:KeyPath, ...:TrustedCaPath", "string", "unset",
            "This process's cluster certificate and key (PEM) and the cluster CA; required in cluster mode while TLS is on. gateway/Hosting/ClusterTls.cs"),
        ("Dashboard:Enabled", "bool", "`false`", "Orleans Dashboard at /dashboard/ on the management listener (silo only); it costs CPU with nobody watching (it samples every Orleans instrument each second). silo/Program.cs"),
        (SiloProviders.MembershipSection + ":*", "Orleans ClusterMembershipOptions", "Orleans' defaults",
            "ProbeTimeout, NumMissedProbesLimit, ...: how soon a dead silo is declared dead (silo). silo/SiloProviders.cs"),
        (SiloProviders.MessagingSection + ":*", "Orleans SiloMessagingOptions / ClientMessagingOptions", "Orleans' defaults",
            "ResponseTimeout, ...: how long a call waits for an answer (silo and gateway). silo/SiloProviders.cs"),
        (SiloProviders.GrainDirectorySection + ":*", "Orleans GrainDirectoryOptions", $"CacheSize `{SiloProviders.DirectoryCacheSize}`",
            "Orleans' cache of grain addresses (silo). silo/SiloProviders.cs"),
        (SiloProviders.GrainCollectionSection + ":*", "Orleans GrainCollectionOptions", $"CollectionQuantum `{SiloProviders.CollectionQuantum:c}`",
            "When idle activations are collected (silo). silo/SiloProviders.cs"),
        ("Orleans:Gateway:*", "Orleans GatewayOptions", "Orleans' defaults",
            "GatewayListRefreshPeriod (1 minute): how soon a standalone gateway uses new silos (gateway only). gateway/Hosting/GatewayProgram.cs"),
    ];

    public static string Generate()
    {
        var docs = new XmlDocs();
        var text = new StringBuilder();
        text.Append("# Configuration reference\n\n");
        text.Append("<!-- Generated from the options types by tests/CmpCluster.Tests/Configuration/ConfigurationReference.cs: do not edit.\n");
        text.Append($"     Rewrite it with: {UpdateCommand} -->\n\n");
        text.Append("Every key can be set in `silo/appsettings.json` (silo) or `gateway/gateway.json` (standalone gateway), as an\n");
        text.Append("environment variable (`:` becomes `__`: `Cmp__Limits__MaxMessageBytes=131072`) or as a command-line argument\n");
        text.Append("(`--Cmp:Limits:MaxMessageBytes=131072`). *Default* is the value when the key is absent everywhere; the shipped\n");
        text.Append("`silo/appsettings.json` adds the aliases `ra`, `tcp` and `client` and the profile `default`. *Range* is checked at\n");
        text.Append("start, and so are the rules each section's validator adds; a bad value stops the process with a message that names\n");
        text.Append("the key. `<name>` stands for a name you choose (an alias, a profile).\n\n");
        foreach ((string section, Type type, string boundIn) in Sections)
        {
            text.Append($"## {section}\n\n");
            text.Append($"Bound in {boundIn}.\n\n");
            Describe(text, docs, section, type, Activator.CreateInstance(type)!);
        }
        text.Append("## Other keys\n\n");
        text.Append("Read directly from the configuration, or handed to Orleans and Kestrel as they are.\n\n");
        text.Append("| key | type | default | what, and where it is read |\n|---|---|---|---|\n");
        foreach ((string key, string type, string @default, string what) in OtherKeys)
        {
            text.Append($"| `{key}` | {type} | {@default} | {Cell(what)} |\n");
        }
        text.Append('\n');
        text.Append("The SQLite store of the single node (silo/Storage/SqliteStoreOptions.cs) is not bound to a section: its folder is\n");
        text.Append("`Node:DataDirectory`, its file `cluster.db`, `synchronous=NORMAL` and a busy timeout of 5 s.\n");
        return text.ToString();
    }

    /// <summary>One table for the keys of <paramref name="type"/> under <paramref name="key"/>, then one per nested options object.</summary>
    private static void Describe(StringBuilder text, XmlDocs docs, string key, Type type, object defaults)
    {
        if (docs.Summary(type) is { Length: > 0 } summary)
        {
            text.Append(summary).Append("\n\n");
        }
        var nested = new List<(string Key, Type Type, object Defaults)>();
        var rows = new StringBuilder();
        foreach (PropertyInfo property in Keys(type))
        {
            Type valueType = property.PropertyType;
            Type? dictionaryValue = valueType.IsGenericType && typeof(IDictionary).IsAssignableFrom(valueType) ? valueType.GetGenericArguments()[1] : null;
            if (dictionaryValue is not null && OptionAnnotations.IsOptionsType(dictionaryValue))
            {
                rows.Append($"| `{key}:{property.Name}:<name>` | {dictionaryValue.Name} by name | none | | {Cell(docs.Summary(property))} |\n");
                nested.Add(($"{key}:{property.Name}:<name>", dictionaryValue, Activator.CreateInstance(dictionaryValue)!));
                continue;
            }
            object? value = property.GetValue(defaults);
            if (OptionAnnotations.IsOptionsType(valueType))
            {
                nested.Add(($"{key}:{property.Name}", valueType, value ?? Activator.CreateInstance(valueType)!));
                continue;
            }
            rows.Append($"| `{key}:{property.Name}` | {TypeName(property)} | {Value(value)} | {Range(property)} | {Cell(docs.Summary(property))} |\n");
        }
        if (rows.Length > 0)
        {
            text.Append("| key | type | default | range | description |\n|---|---|---|---|---|\n").Append(rows).Append('\n');
        }
        foreach ((string nestedKey, Type nestedType, object nestedDefaults) in nested)
        {
            text.Append($"### {nestedKey}\n\n");
            Describe(text, docs, nestedKey, nestedType, nestedDefaults);
        }
    }

    /// <summary>What the configuration binder sets: public instance properties with a public setter, base class first.</summary>
    private static IEnumerable<PropertyInfo> Keys(Type type) => type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.SetMethod is { IsPublic: true } && p.GetIndexParameters().Length == 0)
        .OrderBy(p => p.DeclaringType == type ? 1 : 0)
        .ThenBy(p => p.MetadataToken);

    private static string TypeName(PropertyInfo property)
    {
        Type type = property.PropertyType;
        bool nullable = Nullable.GetUnderlyingType(type) is not null
            || (!type.IsValueType && new NullabilityInfoContext().Create(property).WriteState == NullabilityState.Nullable);
        Type bare = Nullable.GetUnderlyingType(type) ?? type;
        string name = bare switch
        {
            _ when bare == typeof(int) => "int",
            _ when bare == typeof(long) => "long",
            _ when bare == typeof(bool) => "bool",
            _ when bare == typeof(string) => "string",
            _ when bare == typeof(TimeSpan) => "TimeSpan",
            { IsEnum: true } => string.Join(" \\| ", Enum.GetNames(bare).Select(n => $"`{n}`")),
            { IsArray: true } => $"list of {bare.GetElementType()!.Name.ToLowerInvariant()}",
            { IsGenericType: true } when typeof(IEnumerable).IsAssignableFrom(bare) => $"list of {bare.GetGenericArguments()[0].Name.ToLowerInvariant()}",
            _ => bare.Name,
        };
        return nullable && !bare.IsEnum ? name + " (optional)" : name;
    }

    private static string Value(object? value) => value switch
    {
        null => "unset",
        bool b => b ? "`true`" : "`false`",
        TimeSpan t => $"`{t.ToString("c", CultureInfo.InvariantCulture)}`",
        string s => s.Length == 0 ? "empty" : $"`{s}`",
        IEnumerable list => list.Cast<object>().ToArray() is { Length: > 0 } items ? string.Join(", ", items.Select(Value)) : "none",
        IFormattable f => $"`{f.ToString(null, CultureInfo.InvariantCulture)}`",
        _ => $"`{value}`",
    };

    private static string Range(PropertyInfo property) => string.Join("; ", property.GetCustomAttributes<ValidationAttribute>().Select(a => a switch
    {
        RangeAttribute range => OptionAnnotations.Describe(range),
        RequiredAttribute => "required",
        RegularExpressionAttribute pattern => $"`{pattern.Pattern}`",
        _ => a.GetType().Name.Replace("Attribute", "", StringComparison.Ordinal),
    }));

    private static string Cell(string? text) => (text ?? "").Replace("|", "\\|", StringComparison.Ordinal);

    /// <summary>Summaries from the XML documentation files next to the test assembly, as one line of Markdown.</summary>
    private sealed partial class XmlDocs
    {
        private readonly Dictionary<string, string> _summaries = new(StringComparer.Ordinal);

        public XmlDocs()
        {
            foreach (string file in Directory.EnumerateFiles(AppContext.BaseDirectory, "CmpCluster.*.xml"))
            {
                foreach (XElement member in XDocument.Load(file).Descendants("member"))
                {
                    if (member.Attribute("name")?.Value is { } name && member.Element("summary") is { } summary)
                    {
                        _summaries[name] = Markdown(summary);
                    }
                }
            }
            if (_summaries.Count == 0)
            {
                throw new InvalidOperationException($"no XML documentation (CmpCluster.*.xml) in {AppContext.BaseDirectory}: GenerateDocumentationFile is off?");
            }
        }

        public string? Summary(Type type) => _summaries.GetValueOrDefault("T:" + type.FullName!.Replace('+', '.'));

        public string? Summary(PropertyInfo property) =>
            _summaries.GetValueOrDefault($"P:{property.DeclaringType!.FullName!.Replace('+', '.')}.{property.Name}");

        private static string Markdown(XElement summary)
        {
            var text = new StringBuilder();
            foreach (XNode node in summary.Nodes())
            {
                text.Append(node switch
                {
                    XText t => t.Value,
                    XElement { Name.LocalName: "c" } c => $"`{c.Value}`",
                    XElement { Name.LocalName: "see" or "seealso" } see => see.Attribute("langword")?.Value is { } word ? $"`{word}`"
                        : see.Value.Length > 0 ? see.Value : ShortName(see.Attribute("cref")?.Value ?? ""),
                    XElement { Name.LocalName: "paramref" or "typeparamref" } p => p.Attribute("name")?.Value ?? "",
                    XElement e => e.Value,
                    _ => "",
                });
            }
            return Whitespace().Replace(text.ToString(), " ").Trim();
        }

        /// <summary><c>P:CmpCluster.Protocol.Configuration.CmpOptions.MaxWaitTime</c> → <c>MaxWaitTime</c>; a method's arguments dropped.</summary>
        private static string ShortName(string cref)
        {
            string name = cref.Contains('(') ? cref[..cref.IndexOf('(')] : cref;
            name = name[(name.IndexOf(':') + 1)..];
            return $"`{name[(name.LastIndexOf('.') + 1)..]}`";
        }

        [GeneratedRegex(@"\s+")]
        private static partial Regex Whitespace();
    }
}
