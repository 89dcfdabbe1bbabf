/**
 * The directory's schema: the attribute types and object classes bramble's LDAP directory knows, as
 * OpenLDAP's slapd defines them (its built-in system schema, servers/slapd/schema_prep.c, and
 * core.schema, cosine.schema, inetorgperson.schema and nis.schema from Debian's slapd 2.5 package),
 * written as the RFC 4512 descriptions those files contain, without their DESC texts.
 *
 * Why all of them, when the directory holds only a few: a filter on an attribute type the server does
 * not know is Undefined, one on a known type an entry lacks is FALSE, and `(!(...))` turns the
 * difference into entries returned or not [RFC 4511 §4.5.1.7]. Knowing the same types as slapd with
 * those four schema files makes every filter come out as it does there (the conformance comparison
 * loads the same files). Matching rules are named here and implemented in ldap.matching.ts; a type
 * whose rule is not implemented there is one no entry holds, so only its absence is ever tested.
 *
 * Lookups accept any case of a name or alias, or the numeric OID, and give the canonical name (the
 * first NAME) that responses use: slapd answers `uidNumber` whatever case was asked, and `cn` when
 * asked `commonName` (checked against slapd 2.5).
 */

/** RFC 4517 syntax OIDs used by name in code. */
export const Syntax = {
  boolean: '1.3.6.1.4.1.1466.115.121.1.7',
  dn: '1.3.6.1.4.1.1466.115.121.1.12',
  directoryString: '1.3.6.1.4.1.1466.115.121.1.15',
  generalizedTime: '1.3.6.1.4.1.1466.115.121.1.24',
  ia5String: '1.3.6.1.4.1.1466.115.121.1.26',
  integer: '1.3.6.1.4.1.1466.115.121.1.27',
  numericString: '1.3.6.1.4.1.1466.115.121.1.36',
  oid: '1.3.6.1.4.1.1466.115.121.1.38',
  octetString: '1.3.6.1.4.1.1466.115.121.1.40',
  printableString: '1.3.6.1.4.1.1466.115.121.1.44',
  telephoneNumber: '1.3.6.1.4.1.1466.115.121.1.50',
  substringAssertion: '1.3.6.1.4.1.1466.115.121.1.58',
  uuid: '1.3.6.1.1.16.1',
} as const;

export type AttributeUsage = 'userApplications' | 'directoryOperation' | 'distributedOperation' | 'dSAOperation';

export interface AttributeType {
  readonly oid: string;
  /** Canonical name (the first NAME): the spelling responses use. */
  readonly name: string;
  readonly names: readonly string[];
  readonly sup: AttributeType | null;
  /** Matching rule names, inherited from the supertype when the description has none [RFC 4512 §4.1.2]. */
  readonly equality: string | null;
  readonly ordering: string | null;
  readonly substr: string | null;
  /** Syntax OID (inherited likewise), without a length bound. */
  readonly syntax: string;
  readonly singleValue: boolean;
  readonly usage: AttributeUsage;
  /** usage is not userApplications: returned only with `+` or by name. */
  readonly operational: boolean;
  /** This type and its supertypes, nearest first. */
  readonly lineage: readonly AttributeType[];
  /** Types whose lineage includes this one (itself excluded): a filter or selection of `name` covers `cn`, `sn`... */
  readonly subtypes: readonly AttributeType[];
}

export type ObjectClassKind = 'abstract' | 'structural' | 'auxiliary';

export interface ObjectClass {
  readonly oid: string;
  readonly name: string;
  readonly names: readonly string[];
  readonly kind: ObjectClassKind;
  readonly sup: readonly ObjectClass[];
  /** This class and all its superclasses. */
  readonly lineage: ReadonlySet<ObjectClass>;
}

/**
 * slapd's built-in attribute types (schema_prep.c): the ones the four schema files leave commented
 * out as "system schema" (name, cn, uid, userPassword, uidNumber...), the operational ones and the
 * root DSE's. Collective, sync and access-control internals are left out.
 */
const BUILT_IN_ATTRIBUTE_TYPES = [
  "( 2.5.4.0 NAME 'objectClass' EQUALITY objectIdentifierMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 )",
  "( 2.5.21.9 NAME 'structuralObjectClass' EQUALITY objectIdentifierMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
  "( 2.5.18.1 NAME 'createTimestamp' EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
  "( 2.5.18.2 NAME 'modifyTimestamp' EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
  "( 2.5.18.3 NAME 'creatorsName' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
  "( 2.5.18.4 NAME 'modifiersName' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
  "( 2.5.18.9 NAME 'hasSubordinates' EQUALITY booleanMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
  "( 2.5.18.10 NAME 'subschemaSubentry' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
  "( 1.3.6.1.1.20 NAME 'entryDN' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
  "( 1.3.6.1.1.16.4 NAME 'entryUUID' EQUALITY UUIDMatch ORDERING UUIDOrderingMatch SYNTAX 1.3.6.1.1.16.1 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
  "( 1.3.6.1.4.1.4203.666.1.7 NAME 'entryCSN' EQUALITY CSNMatch ORDERING CSNOrderingMatch SYNTAX 1.3.6.1.4.1.4203.666.11.2.1 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
  "( 1.3.6.1.4.1.4203.666.1.25 NAME 'contextCSN' EQUALITY CSNMatch ORDERING CSNOrderingMatch SYNTAX 1.3.6.1.4.1.4203.666.11.2.1 NO-USER-MODIFICATION USAGE dSAOperation )",
  "( 1.3.6.1.4.1.1466.101.120.6 NAME 'altServer' SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 USAGE dSAOperation )",
  "( 1.3.6.1.4.1.1466.101.120.5 NAME 'namingContexts' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 USAGE dSAOperation )",
  "( 1.3.6.1.4.1.1466.101.120.13 NAME 'supportedControl' SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 USAGE dSAOperation )",
  "( 1.3.6.1.4.1.1466.101.120.7 NAME 'supportedExtension' SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 USAGE dSAOperation )",
  "( 1.3.6.1.4.1.1466.101.120.15 NAME 'supportedLDAPVersion' SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 USAGE dSAOperation )",
  "( 1.3.6.1.4.1.1466.101.120.14 NAME 'supportedSASLMechanisms' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 USAGE dSAOperation )",
  "( 1.3.6.1.4.1.4203.1.3.5 NAME 'supportedFeatures' EQUALITY objectIdentifierMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 USAGE dSAOperation )",
  "( 1.3.6.1.4.1.4203.666.1.10 NAME 'monitorContext' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE NO-USER-MODIFICATION USAGE dSAOperation )",
  "( 1.3.6.1.4.1.4203.1.12.2.1 NAME 'configContext' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE NO-USER-MODIFICATION USAGE dSAOperation )",
  "( 1.3.6.1.1.4 NAME 'vendorName' EQUALITY caseExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE NO-USER-MODIFICATION USAGE dSAOperation )",
  "( 1.3.6.1.1.5 NAME 'vendorVersion' EQUALITY caseExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE NO-USER-MODIFICATION USAGE dSAOperation )",
  "( 2.5.18.5 NAME 'administrativeRole' EQUALITY objectIdentifierMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 USAGE directoryOperation )",
  "( 2.5.18.6 NAME 'subtreeSpecification' SYNTAX 1.3.6.1.4.1.1466.115.121.1.45 SINGLE-VALUE USAGE directoryOperation )",
  "( 2.5.21.1 NAME 'dITStructureRules' EQUALITY integerFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.17 USAGE directoryOperation )",
  "( 2.5.21.2 NAME 'dITContentRules' EQUALITY objectIdentifierFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.16 USAGE directoryOperation )",
  "( 2.5.21.4 NAME 'matchingRules' EQUALITY objectIdentifierFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.30 USAGE directoryOperation )",
  "( 2.5.21.5 NAME 'attributeTypes' EQUALITY objectIdentifierFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.3 USAGE directoryOperation )",
  "( 2.5.21.6 NAME 'objectClasses' EQUALITY objectIdentifierFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.37 USAGE directoryOperation )",
  "( 2.5.21.7 NAME 'nameForms' EQUALITY objectIdentifierFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.35 USAGE directoryOperation )",
  "( 2.5.21.8 NAME 'matchingRuleUse' EQUALITY objectIdentifierFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.31 USAGE directoryOperation )",
  "( 1.3.6.1.4.1.1466.101.120.16 NAME 'ldapSyntaxes' EQUALITY objectIdentifierFirstComponentMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.54 USAGE directoryOperation )",
  "( 2.5.4.1 NAME ( 'aliasedObjectName' 'aliasedEntryName' ) EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE )",
  "( 2.16.840.1.113730.3.1.34 NAME 'ref' EQUALITY caseExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 USAGE distributedOperation )",
  "( 2.5.4.49 NAME 'distinguishedName' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
  "( 2.5.4.41 NAME 'name' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )",
  "( 0.9.2342.19200300.100.1.1 NAME ( 'uid' 'userid' ) EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 1.3.6.1.1.1.1.0 NAME 'uidNumber' EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.1 NAME 'gidNumber' EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
  "( 2.5.4.35 NAME 'userPassword' EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 )",
  "( 1.3.6.1.4.1.250.1.57 NAME 'labeledURI' EQUALITY caseExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 2.5.4.13 NAME 'description' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 2.5.4.34 NAME 'seeAlso' SUP distinguishedName )",
];

/** core.schema, cosine.schema, inetorgperson.schema, nis.schema (Debian slapd 2.5.13), in file order. */
const FILE_ATTRIBUTE_TYPES = [
  "( 2.5.4.2 NAME 'knowledgeInformation' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 2.5.4.4 NAME ( 'sn' 'surname' ) SUP name )",
  "( 2.5.4.5 NAME 'serialNumber' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.44 )",
  "( 2.5.4.6 NAME ( 'c' 'countryName' ) SUP name SYNTAX 1.3.6.1.4.1.1466.115.121.1.11 SINGLE-VALUE )",
  "( 2.5.4.7 NAME ( 'l' 'localityName' ) SUP name )",
  "( 2.5.4.8 NAME ( 'st' 'stateOrProvinceName' ) SUP name )",
  "( 2.5.4.9 NAME ( 'street' 'streetAddress' ) EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 2.5.4.10 NAME ( 'o' 'organizationName' ) SUP name )",
  "( 2.5.4.11 NAME ( 'ou' 'organizationalUnitName' ) SUP name )",
  "( 2.5.4.12 NAME 'title' SUP name )",
  "( 2.5.4.14 NAME 'searchGuide' SYNTAX 1.3.6.1.4.1.1466.115.121.1.25 )",
  "( 2.5.4.15 NAME 'businessCategory' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 2.5.4.16 NAME 'postalAddress' EQUALITY caseIgnoreListMatch SUBSTR caseIgnoreListSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.41 )",
  "( 2.5.4.17 NAME 'postalCode' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 2.5.4.18 NAME 'postOfficeBox' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 2.5.4.19 NAME 'physicalDeliveryOfficeName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 2.5.4.20 NAME 'telephoneNumber' EQUALITY telephoneNumberMatch SUBSTR telephoneNumberSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.50 )",
  "( 2.5.4.21 NAME 'telexNumber' SYNTAX 1.3.6.1.4.1.1466.115.121.1.52 )",
  "( 2.5.4.22 NAME 'teletexTerminalIdentifier' SYNTAX 1.3.6.1.4.1.1466.115.121.1.51 )",
  "( 2.5.4.23 NAME ( 'facsimileTelephoneNumber' 'fax' ) SYNTAX 1.3.6.1.4.1.1466.115.121.1.22 )",
  "( 2.5.4.24 NAME 'x121Address' EQUALITY numericStringMatch SUBSTR numericStringSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.36 )",
  "( 2.5.4.25 NAME 'internationaliSDNNumber' EQUALITY numericStringMatch SUBSTR numericStringSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.36 )",
  "( 2.5.4.26 NAME 'registeredAddress' SUP postalAddress SYNTAX 1.3.6.1.4.1.1466.115.121.1.41 )",
  "( 2.5.4.27 NAME 'destinationIndicator' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.44 )",
  "( 2.5.4.28 NAME 'preferredDeliveryMethod' SYNTAX 1.3.6.1.4.1.1466.115.121.1.14 SINGLE-VALUE )",
  "( 2.5.4.29 NAME 'presentationAddress' EQUALITY presentationAddressMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.43 SINGLE-VALUE )",
  "( 2.5.4.30 NAME 'supportedApplicationContext' EQUALITY objectIdentifierMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 )",
  "( 2.5.4.31 NAME 'member' SUP distinguishedName )",
  "( 2.5.4.32 NAME 'owner' SUP distinguishedName )",
  "( 2.5.4.33 NAME 'roleOccupant' SUP distinguishedName )",
  "( 2.5.4.36 NAME 'userCertificate' EQUALITY certificateExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.8 )",
  "( 2.5.4.37 NAME 'cACertificate' EQUALITY certificateExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.8 )",
  "( 2.5.4.38 NAME 'authorityRevocationList' SYNTAX 1.3.6.1.4.1.1466.115.121.1.9 )",
  "( 2.5.4.39 NAME 'certificateRevocationList' SYNTAX 1.3.6.1.4.1.1466.115.121.1.9 )",
  "( 2.5.4.40 NAME 'crossCertificatePair' SYNTAX 1.3.6.1.4.1.1466.115.121.1.10 )",
  "( 2.5.4.42 NAME ( 'givenName' 'gn' ) SUP name )",
  "( 2.5.4.43 NAME 'initials' SUP name )",
  "( 2.5.4.44 NAME 'generationQualifier' SUP name )",
  "( 2.5.4.45 NAME 'x500UniqueIdentifier' EQUALITY bitStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.6 )",
  "( 2.5.4.46 NAME 'dnQualifier' EQUALITY caseIgnoreMatch ORDERING caseIgnoreOrderingMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.44 )",
  "( 2.5.4.47 NAME 'enhancedSearchGuide' SYNTAX 1.3.6.1.4.1.1466.115.121.1.21 )",
  "( 2.5.4.48 NAME 'protocolInformation' EQUALITY protocolInformationMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.42 )",
  "( 2.5.4.50 NAME 'uniqueMember' EQUALITY uniqueMemberMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.34 )",
  "( 2.5.4.51 NAME 'houseIdentifier' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 2.5.4.52 NAME 'supportedAlgorithms' SYNTAX 1.3.6.1.4.1.1466.115.121.1.49 )",
  "( 2.5.4.53 NAME 'deltaRevocationList' SYNTAX 1.3.6.1.4.1.1466.115.121.1.9 )",
  "( 2.5.4.54 NAME 'dmdName' SUP name )",
  "( 2.5.4.65 NAME 'pseudonym' SUP name )",
  "( 0.9.2342.19200300.100.1.3 NAME ( 'mail' 'rfc822Mailbox' ) EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
  "( 0.9.2342.19200300.100.1.25 NAME ( 'dc' 'domainComponent' ) EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
  "( 0.9.2342.19200300.100.1.37 NAME 'associatedDomain' EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
  "( 1.2.840.113549.1.9.1 NAME ( 'email' 'emailAddress' 'pkcs9email' ) EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
  "( 0.9.2342.19200300.100.1.2 NAME 'textEncodedORAddress' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.4 NAME 'info' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.5 NAME ( 'drink' 'favouriteDrink' ) EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.6 NAME 'roomNumber' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.7 NAME 'photo' SYNTAX 1.3.6.1.4.1.1466.115.121.1.23 )",
  "( 0.9.2342.19200300.100.1.8 NAME 'userClass' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.9 NAME 'host' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.10 NAME 'manager' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
  "( 0.9.2342.19200300.100.1.11 NAME 'documentIdentifier' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.12 NAME 'documentTitle' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.13 NAME 'documentVersion' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.14 NAME 'documentAuthor' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
  "( 0.9.2342.19200300.100.1.15 NAME 'documentLocation' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.20 NAME ( 'homePhone' 'homeTelephoneNumber' ) EQUALITY telephoneNumberMatch SUBSTR telephoneNumberSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.50 )",
  "( 0.9.2342.19200300.100.1.21 NAME 'secretary' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
  "( 0.9.2342.19200300.100.1.22 NAME 'otherMailbox' SYNTAX 1.3.6.1.4.1.1466.115.121.1.39 )",
  "( 0.9.2342.19200300.100.1.26 NAME 'aRecord' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
  "( 0.9.2342.19200300.100.1.27 NAME 'mDRecord' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
  "( 0.9.2342.19200300.100.1.28 NAME 'mXRecord' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
  "( 0.9.2342.19200300.100.1.29 NAME 'nSRecord' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
  "( 0.9.2342.19200300.100.1.30 NAME 'sOARecord' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
  "( 0.9.2342.19200300.100.1.31 NAME 'cNAMERecord' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
  "( 0.9.2342.19200300.100.1.38 NAME 'associatedName' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
  "( 0.9.2342.19200300.100.1.39 NAME 'homePostalAddress' EQUALITY caseIgnoreListMatch SUBSTR caseIgnoreListSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.41 )",
  "( 0.9.2342.19200300.100.1.40 NAME 'personalTitle' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.41 NAME ( 'mobile' 'mobileTelephoneNumber' ) EQUALITY telephoneNumberMatch SUBSTR telephoneNumberSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.50 )",
  "( 0.9.2342.19200300.100.1.42 NAME ( 'pager' 'pagerTelephoneNumber' ) EQUALITY telephoneNumberMatch SUBSTR telephoneNumberSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.50 )",
  "( 0.9.2342.19200300.100.1.43 NAME ( 'co' 'friendlyCountryName' ) EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.44 NAME 'uniqueIdentifier' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.45 NAME 'organizationalStatus' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.46 NAME 'janetMailbox' EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
  "( 0.9.2342.19200300.100.1.47 NAME 'mailPreferenceOption' SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 )",
  "( 0.9.2342.19200300.100.1.48 NAME 'buildingName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.49 NAME 'dSAQuality' SYNTAX 1.3.6.1.4.1.1466.115.121.1.19 SINGLE-VALUE )",
  "( 0.9.2342.19200300.100.1.50 NAME 'singleLevelQuality' SYNTAX 1.3.6.1.4.1.1466.115.121.1.13 SINGLE-VALUE )",
  "( 0.9.2342.19200300.100.1.51 NAME 'subtreeMinimumQuality' SYNTAX 1.3.6.1.4.1.1466.115.121.1.13 SINGLE-VALUE )",
  "( 0.9.2342.19200300.100.1.52 NAME 'subtreeMaximumQuality' SYNTAX 1.3.6.1.4.1.1466.115.121.1.13 SINGLE-VALUE )",
  "( 0.9.2342.19200300.100.1.53 NAME 'personalSignature' SYNTAX 1.3.6.1.4.1.1466.115.121.1.23 )",
  "( 0.9.2342.19200300.100.1.54 NAME 'dITRedirect' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
  "( 0.9.2342.19200300.100.1.55 NAME 'audio' SYNTAX 1.3.6.1.4.1.1466.115.121.1.4 )",
  "( 0.9.2342.19200300.100.1.56 NAME 'documentPublisher' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 2.16.840.1.113730.3.1.1 NAME 'carLicense' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 2.16.840.1.113730.3.1.2 NAME 'departmentNumber' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 2.16.840.1.113730.3.1.241 NAME 'displayName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
  "( 2.16.840.1.113730.3.1.3 NAME 'employeeNumber' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
  "( 2.16.840.1.113730.3.1.4 NAME 'employeeType' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
  "( 0.9.2342.19200300.100.1.60 NAME 'jpegPhoto' SYNTAX 1.3.6.1.4.1.1466.115.121.1.28 )",
  "( 2.16.840.1.113730.3.1.39 NAME 'preferredLanguage' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
  "( 2.16.840.1.113730.3.1.40 NAME 'userSMIMECertificate' SYNTAX 1.3.6.1.4.1.1466.115.121.1.5 )",
  "( 2.16.840.1.113730.3.1.216 NAME 'userPKCS12' SYNTAX 1.3.6.1.4.1.1466.115.121.1.5 )",
  "( 1.3.6.1.1.1.1.2 NAME 'gecos' EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.3 NAME 'homeDirectory' EQUALITY caseExactIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.4 NAME 'loginShell' EQUALITY caseExactIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.5 NAME 'shadowLastChange' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.6 NAME 'shadowMin' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.7 NAME 'shadowMax' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.8 NAME 'shadowWarning' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.9 NAME 'shadowInactive' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.10 NAME 'shadowExpire' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.11 NAME 'shadowFlag' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.12 NAME 'memberUid' EQUALITY caseExactIA5Match SUBSTR caseExactIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
  "( 1.3.6.1.1.1.1.13 NAME 'memberNisNetgroup' EQUALITY caseExactIA5Match SUBSTR caseExactIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
  "( 1.3.6.1.1.1.1.14 NAME 'nisNetgroupTriple' SYNTAX 1.3.6.1.1.1.0.0 )",
  "( 1.3.6.1.1.1.1.15 NAME 'ipServicePort' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.16 NAME 'ipServiceProtocol' SUP name )",
  "( 1.3.6.1.1.1.1.17 NAME 'ipProtocolNumber' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.18 NAME 'oncRpcNumber' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.19 NAME 'ipHostNumber' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
  "( 1.3.6.1.1.1.1.20 NAME 'ipNetworkNumber' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.21 NAME 'ipNetmaskNumber' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
  "( 1.3.6.1.1.1.1.22 NAME 'macAddress' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
  "( 1.3.6.1.1.1.1.23 NAME 'bootParameter' SYNTAX 1.3.6.1.1.1.0.1 )",
  "( 1.3.6.1.1.1.1.24 NAME 'bootFile' EQUALITY caseExactIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
  "( 1.3.6.1.1.1.1.26 NAME 'nisMapName' SUP name )",
  "( 1.3.6.1.1.1.1.27 NAME 'nisMapEntry' EQUALITY caseExactIA5Match SUBSTR caseExactIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
];

/** slapd's built-in object classes (schema_prep.c). */
const BUILT_IN_OBJECT_CLASSES = [
  "( 2.5.6.0 NAME 'top' ABSTRACT )",
  "( 1.3.6.1.4.1.1466.101.120.111 NAME 'extensibleObject' SUP top AUXILIARY )",
  "( 2.5.6.1 NAME 'alias' SUP top STRUCTURAL )",
  "( 2.16.840.1.113730.3.2.6 NAME 'referral' SUP top STRUCTURAL )",
  "( 1.3.6.1.4.1.4203.1.4.1 NAME ( 'OpenLDAProotDSE' 'LDAProotDSE' ) SUP top STRUCTURAL )",
  "( 2.5.17.0 NAME 'subentry' SUP top STRUCTURAL )",
  "( 2.5.20.1 NAME 'subschema' AUXILIARY )",
  "( 2.5.17.2 NAME 'collectiveAttributeSubentry' AUXILIARY )",
  "( 1.3.6.1.4.1.1466.101.119.2 NAME 'dynamicObject' SUP top AUXILIARY )",
  "( 1.3.6.1.4.1.4203.666.3.4 NAME 'glue' SUP top STRUCTURAL )",
];

/** The object classes of the four schema files, in file order. */
const FILE_OBJECT_CLASSES = [
  "( 2.5.6.2 NAME 'country' SUP top STRUCTURAL )",
  "( 2.5.6.3 NAME 'locality' SUP top STRUCTURAL )",
  "( 2.5.6.4 NAME 'organization' SUP top STRUCTURAL )",
  "( 2.5.6.5 NAME 'organizationalUnit' SUP top STRUCTURAL )",
  "( 2.5.6.6 NAME 'person' SUP top STRUCTURAL )",
  "( 2.5.6.7 NAME 'organizationalPerson' SUP person STRUCTURAL )",
  "( 2.5.6.8 NAME 'organizationalRole' SUP top STRUCTURAL )",
  "( 2.5.6.9 NAME 'groupOfNames' SUP top STRUCTURAL )",
  "( 2.5.6.10 NAME 'residentialPerson' SUP person STRUCTURAL )",
  "( 2.5.6.11 NAME 'applicationProcess' SUP top STRUCTURAL )",
  "( 2.5.6.12 NAME 'applicationEntity' SUP top STRUCTURAL )",
  "( 2.5.6.13 NAME 'dSA' SUP applicationEntity STRUCTURAL )",
  "( 2.5.6.14 NAME 'device' SUP top STRUCTURAL )",
  "( 2.5.6.15 NAME 'strongAuthenticationUser' SUP top AUXILIARY )",
  "( 2.5.6.16 NAME 'certificationAuthority' SUP top AUXILIARY )",
  "( 2.5.6.17 NAME 'groupOfUniqueNames' SUP top STRUCTURAL )",
  "( 2.5.6.18 NAME 'userSecurityInformation' SUP top AUXILIARY )",
  "( 2.5.6.16.2 NAME 'certificationAuthority-V2' SUP certificationAuthority AUXILIARY )",
  "( 2.5.6.19 NAME 'cRLDistributionPoint' SUP top STRUCTURAL )",
  "( 2.5.6.20 NAME 'dmd' SUP top STRUCTURAL )",
  "( 2.5.6.21 NAME 'pkiUser' SUP top AUXILIARY )",
  "( 2.5.6.22 NAME 'pkiCA' SUP top AUXILIARY )",
  "( 2.5.6.23 NAME 'deltaCRL' SUP top AUXILIARY )",
  "( 1.3.6.1.4.1.250.3.15 NAME 'labeledURIObject' SUP top AUXILIARY )",
  "( 0.9.2342.19200300.100.4.19 NAME 'simpleSecurityObject' SUP top AUXILIARY )",
  "( 1.3.6.1.4.1.1466.344 NAME 'dcObject' SUP top AUXILIARY )",
  "( 1.3.6.1.1.3.1 NAME 'uidObject' SUP top AUXILIARY )",
  "( 0.9.2342.19200300.100.4.4 NAME ( 'pilotPerson' 'newPilotPerson' ) SUP person STRUCTURAL )",
  "( 0.9.2342.19200300.100.4.5 NAME 'account' SUP top STRUCTURAL )",
  "( 0.9.2342.19200300.100.4.6 NAME 'document' SUP top STRUCTURAL )",
  "( 0.9.2342.19200300.100.4.7 NAME 'room' SUP top STRUCTURAL )",
  "( 0.9.2342.19200300.100.4.9 NAME 'documentSeries' SUP top STRUCTURAL )",
  "( 0.9.2342.19200300.100.4.13 NAME 'domain' SUP top STRUCTURAL )",
  "( 0.9.2342.19200300.100.4.14 NAME 'RFC822localPart' SUP domain STRUCTURAL )",
  "( 0.9.2342.19200300.100.4.15 NAME 'dNSDomain' SUP domain STRUCTURAL )",
  "( 0.9.2342.19200300.100.4.17 NAME 'domainRelatedObject' SUP top AUXILIARY )",
  "( 0.9.2342.19200300.100.4.18 NAME 'friendlyCountry' SUP country STRUCTURAL )",
  "( 0.9.2342.19200300.100.4.20 NAME 'pilotOrganization' SUP ( organization $ organizationalUnit ) STRUCTURAL )",
  "( 0.9.2342.19200300.100.4.21 NAME 'pilotDSA' SUP dsa STRUCTURAL )",
  "( 0.9.2342.19200300.100.4.22 NAME 'qualityLabelledData' SUP top AUXILIARY )",
  "( 2.16.840.1.113730.3.2.2 NAME 'inetOrgPerson' SUP organizationalPerson STRUCTURAL )",
  "( 1.3.6.1.1.1.2.0 NAME 'posixAccount' SUP top AUXILIARY )",
  "( 1.3.6.1.1.1.2.1 NAME 'shadowAccount' SUP top AUXILIARY )",
  "( 1.3.6.1.1.1.2.2 NAME 'posixGroup' SUP top STRUCTURAL )",
  "( 1.3.6.1.1.1.2.3 NAME 'ipService' SUP top STRUCTURAL )",
  "( 1.3.6.1.1.1.2.4 NAME 'ipProtocol' SUP top STRUCTURAL )",
  "( 1.3.6.1.1.1.2.5 NAME 'oncRpc' SUP top STRUCTURAL )",
  "( 1.3.6.1.1.1.2.6 NAME 'ipHost' SUP top AUXILIARY )",
  "( 1.3.6.1.1.1.2.7 NAME 'ipNetwork' SUP top STRUCTURAL )",
  "( 1.3.6.1.1.1.2.8 NAME 'nisNetgroup' SUP top STRUCTURAL )",
  "( 1.3.6.1.1.1.2.9 NAME 'nisMap' SUP top STRUCTURAL )",
  "( 1.3.6.1.1.1.2.10 NAME 'nisObject' SUP top STRUCTURAL )",
  "( 1.3.6.1.1.1.2.11 NAME 'ieee802Device' SUP top AUXILIARY )",
  "( 1.3.6.1.1.1.2.12 NAME 'bootableDevice' SUP top AUXILIARY )",
];

/**
 * A parsed RFC 4512 description: the OID, then keyword → values. Only the subset the lists above
 * use: NAME (one quoted name or a parenthesised list), SUP (one or a `$` list), the rule and syntax
 * keywords, USAGE, and the flag keywords.
 */
interface Description {
  oid: string;
  fields: Map<string, string[]>;
}

function parseDescription(text: string): Description {
  const tokens = text.match(/'[^']*'|[()$]|[^\s()$']+/g) ?? [];
  if (tokens[0] !== '(' || tokens[tokens.length - 1] !== ')' || tokens.length < 3) throw new Error(`schema: not a description: ${text}`);
  const oid = tokens[1];
  const fields = new Map<string, string[]>();
  let i = 2;
  const end = tokens.length - 1;
  while (i < end) {
    const keyword = tokens[i++];
    const values: string[] = [];
    if (tokens[i] === '(') {
      i++;
      while (i < end && tokens[i] !== ')') {
        if (tokens[i] !== '$') values.push(unquote(tokens[i]));
        i++;
      }
      i++;
    } else if (i < end && !/^[A-Z][A-Z-]*$/.test(tokens[i])) {
      values.push(unquote(tokens[i++]));
    }
    fields.set(keyword, values);
  }
  return { oid, fields };
}

function unquote(token: string): string {
  return token.startsWith("'") ? token.slice(1, -1) : token;
}

type MutableAttributeType = { -readonly [K in keyof AttributeType]: AttributeType[K] };

interface MutableObjectClass {
  oid: string;
  name: string;
  names: string[];
  kind: ObjectClassKind;
  sup: ObjectClass[];
  lineage: Set<ObjectClass>;
}

const attributeTypesByKey = new Map<string, AttributeType>();
const objectClassesByKey = new Map<string, ObjectClass>();
const allAttributeTypes: AttributeType[] = [];
const allObjectClasses: ObjectClass[] = [];

function loadAttributeTypes(texts: readonly string[]): void {
  const pending: { type: MutableAttributeType; sup: string | null; fields: Map<string, string[]> }[] = [];
  for (const text of texts) {
    const { oid, fields } = parseDescription(text);
    const names = fields.get('NAME') ?? [];
    if (names.length === 0) throw new Error(`schema: ${oid} has no NAME`);
    const usage = (fields.get('USAGE')?.[0] ?? 'userApplications') as AttributeUsage;
    const type: MutableAttributeType = {
      oid,
      name: names[0],
      names,
      sup: null,
      equality: fields.get('EQUALITY')?.[0] ?? null,
      ordering: fields.get('ORDERING')?.[0] ?? null,
      substr: fields.get('SUBSTR')?.[0] ?? null,
      syntax: fields.get('SYNTAX')?.[0] ?? '',
      singleValue: fields.has('SINGLE-VALUE'),
      usage,
      operational: usage !== 'userApplications',
      lineage: [],
      subtypes: [],
    };
    for (const key of [oid, ...names.map((n) => n.toLowerCase())]) {
      if (attributeTypesByKey.has(key)) throw new Error(`schema: ${key} defined twice`);
      attributeTypesByKey.set(key, type);
    }
    allAttributeTypes.push(type);
    pending.push({ type, sup: fields.get('SUP')?.[0] ?? null, fields });
  }
  // Supertypes are resolved once every type is known (a SUP may name a type defined further down),
  // then rules and syntax are inherited from the nearest ancestor that has them.
  for (const { type, sup } of pending) {
    if (sup === null) continue;
    const parent = attributeTypesByKey.get(sup.toLowerCase());
    if (!parent) throw new Error(`schema: ${type.name}: unknown SUP ${sup}`);
    type.sup = parent;
  }
  for (const { type } of pending) {
    const lineage: AttributeType[] = [];
    for (let t: AttributeType | null = type; t !== null && lineage.length < 16; t = t.sup) lineage.push(t);
    type.lineage = lineage;
    for (const ancestor of lineage) {
      if (ancestor === type) continue;
      type.equality ??= ancestor.equality;
      type.ordering ??= ancestor.ordering;
      type.substr ??= ancestor.substr;
      if (type.syntax === '') type.syntax = ancestor.syntax;
      (ancestor.subtypes as AttributeType[]).push(type);
    }
  }
}

function loadObjectClasses(texts: readonly string[]): void {
  const pending: { oc: MutableObjectClass; sup: string[] }[] = [];
  for (const text of texts) {
    const { oid, fields } = parseDescription(text);
    const names = fields.get('NAME') ?? [];
    if (names.length === 0) throw new Error(`schema: ${oid} has no NAME`);
    const kind: ObjectClassKind = fields.has('ABSTRACT') ? 'abstract' : fields.has('AUXILIARY') ? 'auxiliary' : 'structural';
    const oc: MutableObjectClass = { oid, name: names[0], names, kind, sup: [], lineage: new Set() };
    for (const key of [oid, ...names.map((n) => n.toLowerCase())]) {
      if (objectClassesByKey.has(key)) throw new Error(`schema: ${key} defined twice`);
      objectClassesByKey.set(key, oc);
    }
    allObjectClasses.push(oc);
    pending.push({ oc, sup: fields.get('SUP') ?? [] });
  }
  for (const { oc, sup } of pending) {
    for (const name of sup) {
      const parent = objectClassesByKey.get(name.toLowerCase());
      if (!parent) throw new Error(`schema: ${oc.name}: unknown SUP ${name}`);
      oc.sup.push(parent);
    }
  }
  for (const { oc } of pending) {
    // Breadth-first over the superclass graph; bounded by the number of classes.
    const queue: ObjectClass[] = [oc];
    for (let i = 0; i < queue.length && i < allObjectClasses.length + 1; i++) {
      if (oc.lineage.has(queue[i])) continue;
      oc.lineage.add(queue[i]);
      queue.push(...queue[i].sup);
    }
  }
}

loadAttributeTypes([...BUILT_IN_ATTRIBUTE_TYPES, ...FILE_ATTRIBUTE_TYPES]);
loadObjectClasses([...BUILT_IN_OBJECT_CLASSES, ...FILE_OBJECT_CLASSES]);

/** The attribute type named `nameOrOid` (any case of any NAME, or the numeric OID), or null. */
export function attributeType(nameOrOid: string): AttributeType | null {
  return attributeTypesByKey.get(nameOrOid) ?? attributeTypesByKey.get(nameOrOid.toLowerCase()) ?? null;
}

/** The object class named `nameOrOid` (any case of any NAME, or the numeric OID), or null. */
export function objectClass(nameOrOid: string): ObjectClass | null {
  return objectClassesByKey.get(nameOrOid) ?? objectClassesByKey.get(nameOrOid.toLowerCase()) ?? null;
}

/** An attribute type the code relies on: throws at load time if the lists above lose it. */
function required(name: string): AttributeType {
  const type = attributeType(name);
  if (!type) throw new Error(`schema: ${name} missing`);
  return type;
}

/** The types code refers to directly. */
export const Types = {
  objectClass: required('objectClass'),
  structuralObjectClass: required('structuralObjectClass'),
  entryDN: required('entryDN'),
  entryUUID: required('entryUUID'),
  subschemaSubentry: required('subschemaSubentry'),
  hasSubordinates: required('hasSubordinates'),
  createTimestamp: required('createTimestamp'),
  modifyTimestamp: required('modifyTimestamp'),
  userPassword: required('userPassword'),
} as const;

export function allTypes(): readonly AttributeType[] {
  return allAttributeTypes;
}

export function allClasses(): readonly ObjectClass[] {
  return allObjectClasses;
}

/**
 * An attribute description as a request or filter names it (RFC 4512 §2.5): a type, then options.
 * `tagged` descriptions (language tags, `cn;lang-en`) name values no entry here has, so they select
 * nothing and filter FALSE, as in slapd; `;binary` is accepted on the certificate syntaxes only.
 */
export interface AttributeDescription {
  readonly type: AttributeType;
  readonly tagged: boolean;
}

/** Syntaxes slapd marks X-BINARY-TRANSFER-REQUIRED (certificate, certificate list, certificate pair). */
const BINARY_SYNTAXES = new Set(['1.3.6.1.4.1.1466.115.121.1.8', '1.3.6.1.4.1.1466.115.121.1.9', '1.3.6.1.4.1.1466.115.121.1.10']);

/**
 * Parses `type[;option...]`. Null when slapd would call it undefined: an unknown type, an option
 * other than a language tag (`lang-...`) or an allowed `binary`, or any option on an operational type.
 */
export function parseAttributeDescription(text: string): AttributeDescription | null {
  const semicolon = text.indexOf(';');
  if (semicolon < 0) {
    const type = attributeType(text);
    return type ? { type, tagged: false } : null;
  }
  const type = attributeType(text.slice(0, semicolon));
  if (!type || type.operational) return null;
  let tagged = false;
  for (const option of text.slice(semicolon + 1).split(';')) {
    const lower = option.toLowerCase();
    if (lower === 'binary' && BINARY_SYNTAXES.has(type.syntax)) continue;
    if (lower.startsWith('lang-') && /^[a-z0-9-]+$/.test(lower)) {
      tagged = true;
      continue;
    }
    return null;
  }
  return { type, tagged };
}

/** `type` is `ancestor` or one of its subtypes. */
export function isSubtypeOf(type: AttributeType, ancestor: AttributeType): boolean {
  return type === ancestor || type.lineage.includes(ancestor);
}
